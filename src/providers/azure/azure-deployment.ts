import { setTimeout as sleep } from "node:timers/promises";
import type { TunekitConfig } from "../../core/config-schema.js";
import { TunekitError } from "../../core/errors.js";

/** What the deployments call needs, resolved from the config, flags and the environment. */
export interface AzureDeploymentTarget {
  managementEndpoint: string;
  apiVersion: string;
  subscriptionId: string;
  resourceGroup: string;
  account: string;
  token: string;
}

export interface AzureDeploymentRequest {
  /** deployment name (the `model` Azure chat requests name) */
  name: string;
  /** the fine-tuned model id, `gpt-4o-mini-2024-07-18.ft-...` */
  model: string;
  sku: string;
  capacity: number;
}

/** The deployment resource as Azure Resource Manager answers it (fields Tunekit reads). */
export interface AzureDeployment {
  id?: string;
  name?: string;
  sku?: { name: string; capacity?: number };
  properties?: { provisioningState?: string; model?: { format?: string; name?: string; version?: string } };
}

export interface AzureDeploymentOptions {
  /** retries on 429 and 5xx (default 5), waiting Retry-After or an exponential backoff */
  maxRetries?: number;
  /** first backoff in ms (default 1000; doubled each retry, capped at 30 s) */
  backoffMs?: number;
}

const required = (value: string | null | undefined, field: string, variable: string): string => {
  if (value) return value;
  throw new TunekitError(`\`${field}\` is not set`, {
    kind: "usage",
    code: "missing_setting",
    field,
    fix: `set \`${field}\` in tunekit.yaml, pass its flag to \`tunekit deploy\`, or export ${variable}`,
  });
};

/** The management-API target from `azure.deployment` (each field falls back to its env variable). */
export function azureDeploymentTarget(config: TunekitConfig, environment: NodeJS.ProcessEnv = process.env): AzureDeploymentTarget {
  const settings = config.azure.deployment;
  const token = environment[settings.token_env];
  if (!token) {
    throw new TunekitError(`no management token: \`${settings.token_env}\` is not set`, {
      kind: "usage",
      code: "missing_token",
      field: "azure.deployment.token_env",
      fix: `export ${settings.token_env}=$(az account get-access-token --query accessToken -o tsv)`,
    });
  }
  return {
    managementEndpoint: settings.management_endpoint.replace(/\/+$/, ""),
    apiVersion: settings.api_version,
    subscriptionId: required(settings.subscription_id ?? environment.AZURE_SUBSCRIPTION_ID, "azure.deployment.subscription_id", "AZURE_SUBSCRIPTION_ID"),
    resourceGroup: required(settings.resource_group ?? environment.AZURE_RESOURCE_GROUP, "azure.deployment.resource_group", "AZURE_RESOURCE_GROUP"),
    account: required(settings.account ?? environment.AZURE_OPENAI_ACCOUNT, "azure.deployment.account", "AZURE_OPENAI_ACCOUNT"),
    token,
  };
}

/** A deployment name Azure accepts (letters, digits, `-`, `_`, `.`; at most 64) from a model id. */
export function deploymentNameFor(model: string): string {
  const name = model.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "");
  return name.slice(-64).replace(/^[-.]+/, "") || "fine-tuned";
}

export function deploymentUrl(target: AzureDeploymentTarget, name: string): string {
  const path = [
    "subscriptions",
    target.subscriptionId,
    "resourceGroups",
    target.resourceGroup,
    "providers",
    "Microsoft.CognitiveServices",
    "accounts",
    target.account,
    "deployments",
    name,
  ]
    .map((part, index) => (index % 2 === 1 ? encodeURIComponent(part) : part))
    .join("/");
  return `${target.managementEndpoint}/${path}?api-version=${encodeURIComponent(target.apiVersion)}`;
}

/** The body of `PUT .../deployments/{name}` for a fine-tuned model (Azure's documented shape). */
export function deploymentBody(request: AzureDeploymentRequest): Record<string, unknown> {
  return { sku: { name: request.sku, capacity: request.capacity }, properties: { model: { format: "OpenAI", name: request.model, version: "1" } } };
}

async function managementCall(method: "PUT" | "GET", url: string, target: AzureDeploymentTarget, body: unknown, options: AzureDeploymentOptions): Promise<AzureDeployment> {
  const maxRetries = options.maxRetries ?? 5;
  let backoff = options.backoffMs ?? 1000;
  for (let attempt = 0; ; attempt += 1) {
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${target.token}`, "content-type": "application/json", accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (attempt < maxRetries) {
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 30_000);
        continue;
      }
      throw new TunekitError(`cannot reach the Azure management API at ${target.managementEndpoint}: ${(error as Error).message}`, {
        kind: "environment",
        code: "provider_unreachable",
        field: "azure.deployment.management_endpoint",
        fix: "check the network and `azure.deployment.management_endpoint`",
        cause: error,
      });
    }
    const text = await response.text();
    if (response.ok) return (text ? JSON.parse(text) : {}) as AzureDeployment;
    if ((response.status === 429 || response.status >= 500) && attempt < maxRetries) {
      const retryAfter = Number(response.headers.get("retry-after"));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 60_000) : backoff);
      backoff = Math.min(backoff * 2, 30_000);
      continue;
    }
    let message = text.slice(0, 500);
    let code = `http_${response.status}`;
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (parsed.error?.message) message = parsed.error.message;
      if (parsed.error?.code) code = parsed.error.code;
    } catch {
      // not JSON: keep the text
    }
    const status = response.status;
    throw new TunekitError(`Azure management API answered ${status} to ${method} deployment: ${message}`, {
      kind: status === 404 ? "not_found" : status === 409 ? "conflict" : status === 429 || status >= 500 ? "environment" : "usage",
      code,
      field: status === 401 || status === 403 ? "azure.deployment.token_env" : status === 404 ? "azure.deployment.account" : undefined,
      fix:
        status === 401 || status === 403
          ? "get a fresh token (`az account get-access-token`) for an identity with the Cognitive Services Contributor role"
          : status === 404
            ? "check `azure.deployment.subscription_id`, `resource_group` and `account`"
            : status === 400
              ? "check the model id (a succeeded fine-tuning job's `fine_tuned_model`), `azure.deployment.sku` and `capacity`"
              : undefined,
    });
  }
}

/** Create (or update) the deployment: `PUT .../accounts/{account}/deployments/{name}`. */
export function createAzureDeployment(target: AzureDeploymentTarget, request: AzureDeploymentRequest, options: AzureDeploymentOptions = {}): Promise<AzureDeployment> {
  return managementCall("PUT", deploymentUrl(target, request.name), target, deploymentBody(request), options);
}

export function getAzureDeployment(target: AzureDeploymentTarget, name: string, options: AzureDeploymentOptions = {}): Promise<AzureDeployment> {
  return managementCall("GET", deploymentUrl(target, name), target, undefined, options);
}

/** Poll until the deployment's provisioningState is final; a failed one is an error. */
export async function waitForAzureDeployment(
  target: AzureDeploymentTarget,
  name: string,
  options: AzureDeploymentOptions & { intervalMs?: number; timeoutMs?: number; onState?: (state: string) => void } = {},
): Promise<AzureDeployment> {
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  for (;;) {
    const deployment = await getAzureDeployment(target, name, options);
    const state = deployment.properties?.provisioningState ?? "Unknown";
    options.onState?.(state);
    if (state === "Succeeded") return deployment;
    if (state === "Failed" || state === "Canceled") {
      throw new TunekitError(`deployment \`${name}\` ended in provisioningState ${state}`, {
        kind: "environment",
        code: "deployment_failed",
        field: "azure.deployment",
        fix: "see the deployment in the Azure portal for the reason; check the model id, SKU and quota",
      });
    }
    if (Date.now() > deadline)
      throw new TunekitError(`deployment \`${name}\` is still ${state}`, {
        kind: "environment",
        code: "deployment_timeout",
        fix: "check it later with the Azure portal or `az cognitiveservices account deployment show`",
      });
    await sleep(options.intervalMs ?? 10_000);
  }
}
