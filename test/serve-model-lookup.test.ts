import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyStore } from "../src/jobs/api-key-store.js";
import { JobStore, type JobRow } from "../src/jobs/job-store.js";
import { ModelCatalog } from "../src/jobs/model-catalog.js";
import { openDatabase, type StoreDatabase } from "../src/jobs/store/database.js";
import { ModelRegistry } from "../src/serve/model-registry.js";
import { WorkerExporter } from "../src/serve/worker-exporter.js";
import type { PythonWorker } from "../src/spec/python-worker.js";

/**
 * serve finds models through its lookup interfaces, wired as server/tunekit-server.ts wires them:
 * base ids through the catalog (BaseModelLookup), `ft:` ids of jobs and their checkpoints through
 * the job store (FineTunedModelLookup), never through the jobs table itself.
 */
let dataDir: string;
let database: StoreDatabase;
let store: JobStore;
let registry: ModelRegistry;
let projectId: string;

/** The python engine takes HF folders as they are: nothing is exported, so no worker may run. */
const noWorker: PythonWorker = {
  runJson: () => Promise.reject(new Error("no export expected")),
  spawn: () => {
    throw new Error("no worker expected");
  },
};

function adapterFolder(path: string): string {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, "adapter_config.json"), "{}");
  return path;
}

async function job(id: string, status: string, fineTunedModel: string | null): Promise<JobRow> {
  const runDir = join(dataDir, "runs", id);
  adapterFolder(join(runDir, "adapter"));
  return store.insertJob(
    {
      id,
      project_id: projectId,
      model: "tiny-base",
      training_file: "file-aaaaaaaaaaaaaaaa",
      validation_file: null,
      status,
      hyperparameters: "{}",
      resolved_hyperparameters: null,
      method: JSON.stringify({ type: "supervised" }),
      suffix: null,
      seed: 1,
      metadata: null,
      fine_tuned_model: fineTunedModel,
      error: null,
      created_at: Date.now(),
      started_at: Date.now(),
      finished_at: null,
      trained_tokens: null,
      estimated_finish: null,
      result_files: "[]",
      heartbeat_at: null,
      run_dir: runDir,
      last_checkpoint_path: null,
      adapter_path: null,
      options: null,
      integrations: null,
      model_deleted_at: null,
      execution_backend: null,
      execution_nodes: null,
    },
    { message: "created" },
  );
}

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tunekit-model-lookup-"));
  database = await openDatabase(dataDir);
  store = new JobStore(database);
  projectId = (await new ApiKeyStore(database).ensureProject("alpha")).id;
  registry = new ModelRegistry({
    engine: "python",
    catalog: new ModelCatalog({ models: ["tiny-base"] }),
    fineTuned: store,
    cacheDir: join(dataDir, "serve-cache"),
    exporter: new WorkerExporter(noWorker),
  });
});
afterEach(async () => {
  await database.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("ModelRegistry on the server's lookups", () => {
  it("serves a base model of the catalog, a succeeded job's model and a checkpoint of it", async () => {
    const succeeded = await job("ftjob-succeeded00000", "succeeded", "ft:tiny-base::succeeded");
    const checkpoint = adapterFolder(join(succeeded.run_dir!, "checkpoints", "step-000004"));
    await store.addCheckpoint(succeeded, { step: 4, path: checkpoint, metrics: { step: 4 }, fineTunedModelCheckpoint: "ft:tiny-base::succeeded:ckpt-step-4" });

    expect(await registry.resolve(projectId, "tiny-base")).toEqual({ id: "tiny-base", base: "tiny-base", adapter: null });
    expect(await registry.resolve(projectId, "ft:tiny-base::succeeded")).toEqual({
      id: "ft:tiny-base::succeeded",
      base: "tiny-base",
      adapter: join(succeeded.run_dir!, "adapter"),
    });
    expect(await registry.resolve(null, "ft:tiny-base::succeeded:ckpt-step-4")).toEqual({ id: "ft:tiny-base::succeeded:ckpt-step-4", base: "tiny-base", adapter: checkpoint });
  });

  it("answers model_not_found for another project's model, a job that has not succeeded, and a base the catalog lacks", async () => {
    await job("ftjob-running0000000", "running", "ft:tiny-base::running");
    const other = (await new ApiKeyStore(database).ensureProject("beta")).id;
    await job("ftjob-succeeded00001", "succeeded", "ft:tiny-base::theirs");
    await expect(registry.resolve(other, "ft:tiny-base::theirs")).rejects.toMatchObject({ code: "model_not_found" });
    await expect(registry.resolve(projectId, "ft:tiny-base::running")).rejects.toMatchObject({ code: "model_not_found", message: expect.stringContaining("is running") });
    await expect(registry.resolve(projectId, "other-base")).rejects.toMatchObject({ code: "model_not_found" });
  });
});
