import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyStore } from "../src/jobs/api-key-store.js";
import { FileStore } from "../src/jobs/file-store.js";
import { JobOutcomes } from "../src/jobs/job-outcome.js";
import { JobService } from "../src/jobs/job-service.js";
import { JobStore } from "../src/jobs/job-store.js";
import { JobServiceProvider } from "../src/jobs/job-service-provider.js";
import { ModelCatalog } from "../src/jobs/model-catalog.js";
import { RunPreparer } from "../src/jobs/run-preparer.js";
import { Scheduler } from "../src/jobs/scheduler.js";
import { openDatabase, type StoreDatabase } from "../src/jobs/store/database.js";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";

let dataDir: string;
let database: StoreDatabase;
let scheduler: Scheduler;

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tunekit-provider-"));
  database = await openDatabase(dataDir);
});
afterEach(async () => {
  await scheduler?.close();
  await database.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

const examples = Array.from({ length: 10 }, (_, index) => JSON.stringify({ prompt: `2+${index}=`, completion: String(2 + index) })).join("\n") + "\n";

describe("JobServiceProvider", () => {
  it("uploads, creates, lists, cancels, and refuses illegal transitions like the HTTP API", async () => {
    const store = new JobStore(database);
    const files = new FileStore(database, dataDir, 1 << 20);
    const catalog = new ModelCatalog({ models: ["tiny-base"] });
    const outcomes = new JobOutcomes(store, files);
    scheduler = new Scheduler(store, new LocalExecutionBackend(), { maxConcurrentJobs: 0, runs: new RunPreparer(store, files, catalog, { dataDir }), outcomes });
    const jobs = new JobService(store, files, catalog, scheduler, outcomes);
    const project = await new ApiKeyStore(database).ensureProject("alpha");
    const provider = new JobServiceProvider(jobs, files, project);

    const file = await provider.uploadFile({ filename: "math.jsonl", purpose: "fine-tune", content: Buffer.from(examples) });
    expect(file.status).toBe("processed");
    const job = await provider.createJob({ model: "tiny-base", training_file: file.id, seed: 7 });
    expect(job.seed).toBe(7);
    await jobs.settled();
    expect((await provider.getJob(job.id)).status).toBe("queued");
    expect((await provider.listJobs({ limit: 5 })).data.map((listed) => listed.id)).toEqual([job.id]);
    await expect(provider.pauseJob(job.id)).rejects.toMatchObject({ kind: "conflict" });
    expect((await provider.cancelJob(job.id)).status).toBe("cancelled");
    await expect(provider.resumeJob(job.id)).rejects.toMatchObject({ kind: "conflict" });
    expect((await provider.listEvents(job.id)).data.map((event) => event.message)).toEqual([
      "Fine-tuning job cancelled",
      "Files validated (10 training examples); job queued",
      `Validating training file: ${file.id}`,
    ]);
    expect((await provider.listCheckpoints(job.id)).data).toEqual([]);
  });
});
