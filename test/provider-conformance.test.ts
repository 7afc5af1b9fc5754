import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../src/core/config-schema.js";
import { JobServiceProvider } from "../src/jobs/job-service-provider.js";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { createAzureProvider } from "../src/providers/azure/azure-fine-tune-provider.js";
import { createOpenAIProvider } from "../src/providers/openai/openai-fine-tune-provider.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import type { FineTuneProvider } from "../src/spec/fine-tune-provider.js";
import { fineTuneProviderConformance } from "./conformance/fine-tune-provider-conformance.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

/**
 * One conformance suite, three providers, one real Tunekit server training a tiny random Llama:
 * `local` (the job service in process), `openai` (the official SDK over /v1 with a key) and
 * `azure` (the SDK's AzureOpenAI client over /openai/...?api-version with an `api-key` header).
 */

const trainingJsonl =
  Array.from({ length: 16 }, (_, index) =>
    JSON.stringify({
      messages: [
        { role: "user", content: `What color is apple number ${index}?` },
        { role: "assistant", content: "The apple is red." },
      ],
    }),
  ).join("\n") + "\n";

let workDir: string;
let server: RunningServer;
const keys: Record<string, string> = {};

beforeAll(async () => {
  if (!haveWorker) return;
  workDir = mkdtempSync(join(tmpdir(), "tunekit-conformance-"));
  buildTinyLlama(join(workDir, "tiny-llama"));
  server = await startServer({
    port: 0,
    dataDir: join(workDir, "data"),
    models: [join(workDir, "tiny-llama")],
    backend: new LocalExecutionBackend({ python, workerRoot }),
    trainingDefaults: { device: "cpu", max_steps: 6, checkpoint_every: 2, eval_every: 2, threads: 1 },
    maxSeqLen: 64,
  });
  for (const project of ["tunekit", "openai", "azure"]) keys[project] = (await server.services.keys.createKey(`conformance-${project}`)).key;
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const common = { model: "tiny-llama", trainingJsonl, timeoutMs: 120_000 };

describe.skipIf(!haveWorker)("FineTuneProvider conformance: tunekit (the job service in process)", () => {
  let provider: FineTuneProvider | null = null;
  fineTuneProviderConformance({
    ...common,
    provider: () => {
      if (!provider) throw new Error("not set up");
      return provider;
    },
  });
  beforeAll(async () => {
    const project = await server.services.keys.authenticate(keys.tunekit as string);
    provider = new JobServiceProvider(server.services.jobs, server.services.files, project!);
  });
});

describe.skipIf(!haveWorker)("FineTuneProvider conformance: openai (official SDK against the Tunekit server)", () => {
  fineTuneProviderConformance({
    ...common,
    provider: () =>
      createOpenAIProvider(configSchema.parse({ provider: "openai", openai: { base_url: `${server.url}/v1`, api_key_env: "CONFORMANCE_KEY", max_retries: 0 } }), {
        CONFORMANCE_KEY: keys.openai,
      }),
  });
});

describe.skipIf(!haveWorker)("FineTuneProvider conformance: azure (AzureOpenAI client against the Tunekit server's Azure URL shape)", () => {
  fineTuneProviderConformance({
    ...common,
    provider: () =>
      createAzureProvider(configSchema.parse({ provider: "azure", azure: { endpoint: server.url, api_key_env: "CONFORMANCE_AZURE_KEY", max_retries: 0 } }), {
        CONFORMANCE_AZURE_KEY: keys.azure,
      }),
  });

  it("sends `api-version` and the `api-key` header; without `api-version` the server answers 400 naming it", async () => {
    const url = `${server.url}/openai/fine_tuning/jobs`;
    const withVersion = await fetch(`${url}?api-version=2024-10-21`, { headers: { "api-key": keys.azure as string } });
    expect(withVersion.status).toBe(200);
    const without = await fetch(url, { headers: { "api-key": keys.azure as string } });
    expect(without.status).toBe(400);
    expect(((await without.json()) as { error: { param: string } }).error.param).toBe("api-version");
    const noKey = await fetch(`${url}?api-version=2024-10-21`);
    expect(noKey.status).toBe(401);
  });
});
