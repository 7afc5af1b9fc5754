import type { TunekitConfig } from "../core/config-schema.js";
import { TunekitError } from "../core/errors.js";
import { defaultPriceTable } from "../data/estimate/price-table.js";
import type { HostedProvider } from "../spec/hosted-provider.js";
import { azureEndpoint, createAzureProvider } from "./azure/azure-fine-tune-provider.js";
import { createOpenAIProvider, OPENAI_BASE_URL } from "./openai/openai-fine-tune-provider.js";

export const HOSTED_PROVIDERS = ["openai", "azure"] as const;
export type HostedProviderName = (typeof HOSTED_PROVIDERS)[number];

/**
 * A hosted provider for `tunekit server --hosted openai|azure`, from the run config's `openai` or
 * `azure` section (base URL or endpoint, key variable): its fine-tuning API through the official SDK,
 * and chat completions forwarded as they are. The base models offered are the price table's for that
 * provider, or `models`.
 */
export function createHostedProvider(name: string, config: TunekitConfig, environment: NodeJS.ProcessEnv = process.env, models?: readonly string[]): HostedProvider {
  if (!HOSTED_PROVIDERS.includes(name as HostedProviderName)) {
    throw new TunekitError(`\`--hosted ${name}\` is not a hosted provider`, {
      kind: "usage",
      code: "invalid_option",
      field: "--hosted",
      fix: `use one of ${HOSTED_PROVIDERS.join(", ")}`,
    });
  }
  const offered =
    models && models.length > 0
      ? [...models]
      : defaultPriceTable()
          .models.filter((entry) => entry.provider === "openai")
          .map((entry) => entry.model);
  if (name === "openai") {
    const provider = createOpenAIProvider(config, environment);
    const baseURL = (config.openai.base_url ?? OPENAI_BASE_URL).replace(/\/+$/, "");
    const apiKey = environment[config.openai.api_key_env] as string;
    return {
      name,
      label: `OpenAI (${new URL(baseURL).host})`,
      provider,
      models: offered,
      chat: (body, signal) =>
        fetch(`${baseURL}/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
          body: JSON.stringify(body),
          signal,
        }),
    };
  }
  const provider = createAzureProvider(config, environment);
  const endpoint = azureEndpoint(config, environment);
  const settings = config.azure;
  return {
    name,
    label: `Azure OpenAI (${new URL(endpoint).host})`,
    provider,
    models: offered,
    // Azure answers a model through a deployment named after it (`tunekit deploy --provider azure`)
    chat: (body, signal) => {
      const token = settings.ad_token_env ? environment[settings.ad_token_env] : undefined;
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : { "api-key": environment[settings.api_key_env] ?? "" };
      return fetch(`${endpoint}/openai/deployments/${encodeURIComponent(String(body.model ?? ""))}/chat/completions?api-version=${encodeURIComponent(settings.api_version)}`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal,
      });
    },
  };
}
