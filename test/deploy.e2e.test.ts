import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectJsonOutput } from "./helpers/cli-json-contract.js";

/**
 * `tunekit deploy --provider azure` through the real CLI against a local HTTP endpoint that
 * answers like Azure Resource Manager and records the requests: the shape must be Azure's.
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "tunekit-deploy-"));
let server: Server;
let endpoint: string;
const seen: Array<{ method: string; url: string; authorization?: string; body: unknown }> = [];

function tunekit(args: string[], environment: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(root, "dist", "cli", "main.js"), ...args],
      { cwd: scratch, env: { ...process.env, AZURE_MANAGEMENT_TOKEN: "", AZURE_SUBSCRIPTION_ID: "", ...environment }, timeout: 60_000 },
      (error, stdout, stderr) => {
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  let polls = 0;
  server = createServer((request, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => (text += chunk.toString()));
    request.on("end", () => {
      seen.push({ method: request.method ?? "", url: request.url ?? "", authorization: request.headers.authorization, body: text ? JSON.parse(text) : null });
      const state = request.method === "PUT" ? "Creating" : ++polls < 2 ? "Creating" : "Succeeded";
      response
        .writeHead(request.method === "PUT" ? 201 : 200, { "content-type": "application/json" })
        .end(JSON.stringify({ name: "recipes", properties: { provisioningState: state } }));
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((done) => server.close(() => done()));
  rmSync(scratch, { recursive: true, force: true });
});

describe("tunekit deploy --provider azure", () => {
  it("PUTs the deployment with the token from the environment and waits for Succeeded", async () => {
    const model = "gpt-4o-mini-2024-07-18.ft-5d1e2a";
    const result = await tunekit(
      [
        "deploy",
        "--provider",
        "azure",
        "--model",
        model,
        "--name",
        "recipes",
        "--subscription",
        "sub-9",
        "--resource-group",
        "rg-9",
        "--account",
        "acct-9",
        "--capacity",
        "3",
        "--wait",
        "--poll-interval",
        "0.05",
        "--json",
        "--set",
        `azure.deployment.management_endpoint=${endpoint}`,
      ],
      { AZURE_MANAGEMENT_TOKEN: "tok-abc" },
    );
    expect(result.code, result.stderr).toBe(0);
    const printed = expectJsonOutput<{ name: string; provisioning_state: string }>("deploy", result.stdout);
    expect(printed).toMatchObject({ name: "recipes", provisioning_state: "Succeeded" });
    const path = "/subscriptions/sub-9/resourceGroups/rg-9/providers/Microsoft.CognitiveServices/accounts/acct-9/deployments/recipes?api-version=2024-10-01";
    expect(seen[0]).toEqual({
      method: "PUT",
      url: path,
      authorization: "Bearer tok-abc",
      body: { sku: { name: "standard", capacity: 3 }, properties: { model: { format: "OpenAI", name: model, version: "1" } } },
    });
    expect(seen.slice(1).map((request) => `${request.method} ${request.url}`)).toEqual([`GET ${path}`, `GET ${path}`]);
  });

  it("says which setting is missing, and that other providers need no deployment", async () => {
    const noToken = await tunekit(["deploy", "--provider", "azure", "--model", "m"]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/AZURE_MANAGEMENT_TOKEN/);
    const noAccount = await tunekit(["deploy", "--provider", "azure", "--model", "m", "--subscription", "s", "--resource-group", "r"], { AZURE_MANAGEMENT_TOKEN: "t" });
    expect(noAccount.code).toBe(2);
    expect(noAccount.stderr).toMatch(/azure\.deployment\.account/);
    const openai = await tunekit(["deploy", "--provider", "openai", "--model", "ft:gpt-4o-mini:x"]);
    expect(openai.code).toBe(2);
    expect(openai.stderr).toMatch(/needs no deployment/);
  });
});
