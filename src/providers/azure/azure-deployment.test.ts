import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../../core/config-schema.js";
import { isTunekitError } from "../../core/errors.js";
import { azureDeploymentTarget, createAzureDeployment, deploymentNameFor, waitForAzureDeployment } from "./azure-deployment.js";

/**
 * The deployments call against a local HTTP endpoint that answers like Azure Resource Manager and
 * records what it was sent: method, path, api-version, bearer token and body must be Azure's.
 */
interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}
let server: Server | null = null;

async function management(answer: (seen: Seen, index: number) => { status: number; body: unknown; headers?: Record<string, string> }): Promise<{ endpoint: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((request, response) => {
    let text = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (text += chunk));
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://x");
      const entry: Seen = {
        method: request.method ?? "",
        path: url.pathname,
        query: url.searchParams,
        authorization: request.headers.authorization,
        contentType: request.headers["content-type"],
        body: text ? JSON.parse(text) : null,
      };
      seen.push(entry);
      const { status, body, headers } = answer(entry, seen.length);
      response.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((done) => server!.listen(0, "127.0.0.1", done));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

afterEach(async () => {
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  server = null;
});

const model = "gpt-4o-mini-2024-07-18.ft-0123456789abcdef";
const deploymentPath = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.CognitiveServices/accounts/acct-1/deployments/my-deploy";

function target(endpoint: string) {
  const config = configSchema.parse({
    provider: "azure",
    azure: { deployment: { subscription_id: "sub-1", resource_group: "rg-1", account: "acct-1", management_endpoint: endpoint } },
  });
  return azureDeploymentTarget(config, { AZURE_MANAGEMENT_TOKEN: "token-123" });
}

describe("azure deployments (management REST API)", () => {
  it("PUTs Azure's deployment body with the bearer token, then polls until Succeeded", async () => {
    const { endpoint, seen } = await management((request) =>
      request.method === "PUT"
        ? { status: 201, body: { name: "my-deploy", properties: { provisioningState: "Creating" } } }
        : { status: 200, body: { name: "my-deploy", properties: { provisioningState: seen.length < 3 ? "Creating" : "Succeeded", model: { name: model } } } },
    );
    const azure = target(endpoint);
    const created = await createAzureDeployment(azure, { name: "my-deploy", model, sku: "standard", capacity: 2 });
    expect(created.properties?.provisioningState).toBe("Creating");
    const put = seen[0]!;
    expect(put.method).toBe("PUT");
    expect(put.path).toBe(deploymentPath);
    expect(put.query.get("api-version")).toBe("2024-10-01");
    expect(put.authorization).toBe("Bearer token-123");
    expect(put.contentType).toBe("application/json");
    expect(put.body).toEqual({ sku: { name: "standard", capacity: 2 }, properties: { model: { format: "OpenAI", name: model, version: "1" } } });
    const states: string[] = [];
    const ready = await waitForAzureDeployment(azure, "my-deploy", { intervalMs: 10, onState: (state) => states.push(state) });
    expect(ready.properties?.provisioningState).toBe("Succeeded");
    expect(states).toEqual(["Creating", "Succeeded"]);
    expect(seen.slice(1).every((request) => request.method === "GET" && request.path === deploymentPath && request.authorization === "Bearer token-123")).toBe(true);
  });

  it("retries 429 with Retry-After, and reports a 403 naming the token setting", async () => {
    const { endpoint, seen } = await management((_request, index) =>
      index === 1
        ? { status: 429, body: { error: { code: "TooManyRequests", message: "slow down" } }, headers: { "retry-after": "0" } }
        : { status: 403, body: { error: { code: "AuthorizationFailed", message: "no permission" } } },
    );
    const error = await createAzureDeployment(target(endpoint), { name: "my-deploy", model, sku: "standard", capacity: 1 }, { backoffMs: 5 }).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(seen).toHaveLength(2);
    expect(isTunekitError(error) && error.code).toBe("AuthorizationFailed");
    expect(isTunekitError(error) && error.field).toBe("azure.deployment.token_env");
  });

  it("names each missing setting and the token variable", () => {
    expect(() => azureDeploymentTarget(configSchema.parse({}), {})).toThrow(/AZURE_MANAGEMENT_TOKEN/);
    expect(() => azureDeploymentTarget(configSchema.parse({}), { AZURE_MANAGEMENT_TOKEN: "t" })).toThrow(/azure\.deployment\.subscription_id/);
  });

  it("derives a deployment name Azure accepts from a model id", () => {
    expect(deploymentNameFor("ft:gpt-4o-mini-2024-07-18:acme:recipes:abc123")).toBe("ft-gpt-4o-mini-2024-07-18-acme-recipes-abc123");
    expect(deploymentNameFor(model)).toBe(model);
  });
});
