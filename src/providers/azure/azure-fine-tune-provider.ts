import { AzureOpenAI } from "openai";
import type { TunekitConfig } from "../../core/config-schema.js";
import { TunekitError } from "../../core/errors.js";
import { OpenAIFineTuneProvider } from "../openai/openai-fine-tune-provider.js";

/** The resource endpoint of `azure.endpoint` or AZURE_OPENAI_ENDPOINT, without trailing slashes. */
export function azureEndpoint(config: TunekitConfig, environment: NodeJS.ProcessEnv): string {
  const endpoint = config.azure.endpoint ?? environment.AZURE_OPENAI_ENDPOINT;
  if (!endpoint) {
    throw new TunekitError("no Azure OpenAI endpoint", {
      kind: "usage",
      code: "missing_endpoint",
      field: "azure.endpoint",
      fix: "set `azure.endpoint: https://<resource>.openai.azure.com` in tunekit.yaml or export AZURE_OPENAI_ENDPOINT",
    });
  }
  return endpoint.replace(/\/+$/, "");
}

/**
 * `provider: azure`: the same FineTuneProvider over the SDK's `AzureOpenAI` client, which sends
 * `{endpoint}/openai/...?api-version=...` with an `api-key` header (or an Entra ID bearer token).
 */
export function createAzureProvider(config: TunekitConfig, environment: NodeJS.ProcessEnv = process.env): OpenAIFineTuneProvider {
  const settings = config.azure;
  const endpoint = azureEndpoint(config, environment);
  const common = { endpoint, apiVersion: settings.api_version, maxRetries: settings.max_retries, timeout: Math.round(settings.timeout_s * 1000) };
  let client: AzureOpenAI;
  if (settings.ad_token_env) {
    const variable = settings.ad_token_env;
    const token = environment[variable];
    if (!token)
      throw new TunekitError(`no Entra ID token: \`${variable}\` is not set`, {
        kind: "usage",
        code: "missing_token",
        field: "azure.ad_token_env",
        fix: `export ${variable}=$(az account get-access-token --resource https://cognitiveservices.azure.com --query accessToken -o tsv)`,
      });
    client = new AzureOpenAI({ ...common, azureADTokenProvider: async () => environment[variable] ?? token });
  } else {
    const apiKey = environment[settings.api_key_env];
    if (!apiKey) {
      throw new TunekitError(`no Azure OpenAI key: \`${settings.api_key_env}\` is not set`, {
        kind: "usage",
        code: "missing_api_key",
        field: "azure.api_key_env",
        fix: `export ${settings.api_key_env}=<key of the resource>, or use Entra ID with \`azure.ad_token_env\``,
      });
    }
    client = new AzureOpenAI({ ...common, apiKey });
  }
  return new OpenAIFineTuneProvider(client, { name: "azure", baseURL: `${endpoint}/openai`, apiKeyEnv: settings.ad_token_env ?? settings.api_key_env });
}
