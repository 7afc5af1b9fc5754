import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { promisify } from "node:util";
import OpenAI, { toFile } from "openai";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executionSchema, raySettingsSchema } from "../src/core/config-schema.js";
import { TunekitError } from "../src/core/errors.js";
import { clusterBackendOptions, ClusterExecutionBackend, clusterSubmissionOf, engineKeyOf } from "../src/providers/cluster/cluster-execution-backend.js";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { venvPath, venvPython, workerRoot } from "../src/providers/local/worker-environment.js";
import { RayEngine } from "../src/providers/ray/ray-engine.js";
import { startServer } from "../src/server/tunekit-server.js";
import type { RaySettings } from "../src/core/config-schema.js";
import { latestCompleteCheckpoint } from "../src/spec/run-folder.js";
import type { WorkerEvent } from "../src/spec/worker-events.js";
import { untilEvent } from "./helpers/until-event.js";
import { launchChromium, SCREENSHOTS } from "./helpers/browser.js";
import { buildTinyLlama } from "./helpers/tiny-llama.js";
import { conformanceData, conformanceRequest, describeBackendConformance, lossCurve } from "./helpers/execution-backend-conformance.js";

// The Ray backend on a real two-node Ray cluster on this machine (scripts/ray-cluster.sh: a head and
// a second node, one CPU each, on 127.0.0.1): the Jobs REST API, Ray Train's TorchTrainer with two
// gloo workers forced onto different nodes (STRICT_SPREAD), the worker's real training loop.
const cluster = (command: string) => execFileSync("bash", ["scripts/ray-cluster.sh", command], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 240_000 });
const address = "http://127.0.0.1:8265";
const scratch = mkdtempSync(join(tmpdir(), "tunekit-ray-"));
const worker = { python: venvPython(venvPath()), workerRoot: workerRoot() };

function rayBackend(overrides: Partial<RaySettings> = {}): { engine: RayEngine; backend: ClusterExecutionBackend } {
  const settings = raySettingsSchema.parse({
    address,
    num_workers: 2,
    placement_strategy: "STRICT_SPREAD",
    poll_interval_s: 0.5,
    stop_timeout_s: 90,
    start_timeout_s: 420,
    ...overrides,
  });
  const engine = new RayEngine(settings, worker);
  return { engine, backend: new ClusterExecutionBackend(engine, clusterBackendOptions(settings)) };
}

const { engine, backend } = rayBackend();

async function endState(id: string, on: RayEngine = engine): Promise<string> {
  for (let tries = 0; tries < 240; tries++) {
    const { state } = await on.status(id);
    if (["succeeded", "failed", "stopped"].includes(state)) return state;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return "timed out";
}

beforeAll(() => {
  // a fresh cluster: one left by an earlier run may hold its jobs or have token auth on
  cluster("stop");
  cluster("start");
}, 300_000);

afterAll(async () => {
  await backend.close();
  cluster("stop");
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

let trainedEvents: WorkerEvent[] | null = null;

describeBackendConformance(
  "ray",
  () => ({
    backend,
    onTrained: (events) => (trainedEvents = events),
    name: "ray",
    processes: 2,
    scratch,
    refused: [
      { label: "unreachable address", backend: rayBackend({ address: "http://127.0.0.1:9" }).backend, field: "execution.ray.address" },
      // never sent anything: the refusal comes before any request
      {
        label: "remote address without a token",
        backend: rayBackend({ address: "http://10.255.255.1:8265", token_env: "TUNEKIT_TEST_NO_SUCH_TOKEN" }).backend,
        field: "execution.ray.token_env",
      },
      { label: "more than the cluster holds", backend: rayBackend({ cpus_per_worker: 2 }).backend, field: "execution.ray.num_workers" },
    ],
  }),
  480_000,
); // the first job's start (driver, placement group, two actors importing torch) is slow on two busy cores

describe("ray backend on two nodes", () => {
  it("runs world size 2 on two Ray nodes with the same loss curve as a 2-process local torchrun, within 1e-5", async () => {
    // the conformance suite's 6-step run (the same request), or a run of its own when the suite was filtered out
    let rayEvents = trainedEvents;
    if (!rayEvents) {
      const events: WorkerEvent[] = [];
      const onRay = await backend.launch(conformanceRequest({ scratch, processes: 2 }, "ray-curve"), (event) => events.push(event)).finished;
      expect(onRay.status, onRay.message).toBe("succeeded");
      rayEvents = events;
    }
    const started = rayEvents.find((event) => event.type === "started");
    expect(started).toMatchObject({ world_size: 2 });
    const nodeIds = started?.type === "started" ? (started.nodes ?? []).map((node) => node.node_id) : [];
    expect(nodeIds).toHaveLength(2);
    expect(new Set(nodeIds).size).toBe(2);
    const aliveIds = (await engine.nodes()).map((node) => node.node_id);
    for (const id of nodeIds) expect(aliveIds).toContain(id);

    const local = new LocalExecutionBackend();
    const localEvents: WorkerEvent[] = [];
    const onLocal = await local.launch(conformanceRequest({ scratch, processes: 2 }, "local-curve"), (event) => localEvents.push(event)).finished;
    await local.close();
    expect(onLocal.status, onLocal.message).toBe("succeeded");
    const rayCurve = lossCurve(rayEvents);
    const localCurve = lossCurve(localEvents);
    expect(rayCurve.map(([step]) => step)).toEqual(localCurve.map(([step]) => step));
    rayCurve.forEach(([, loss], index) => expect(Math.abs(loss - localCurve[index]![1])).toBeLessThan(1e-5));
  }, 400_000);

  it("an attempt the cluster cannot place within start_timeout_s is stopped on Ray, so that it never starts later, and fails as retryable", async () => {
    // STRICT_PACK wants both workers on one node; each node has one CPU: Ray runs the driver, and its trainer waits for ever
    const settings = raySettingsSchema.parse({ address, num_workers: 2, placement_strategy: "STRICT_PACK" });
    const rayEngine = new RayEngine(settings, worker);
    const waiting = new ClusterExecutionBackend(rayEngine, { pollIntervalMs: 500, startTimeoutMs: 8_000, stopTimeoutMs: 60_000 });
    const request = conformanceRequest({ scratch, processes: 2 }, "ray-unplaceable");
    const outcome = await waiting.launch(request, () => undefined).finished;
    expect(outcome, outcome.message).toMatchObject({ status: "failed", errorCode: "cluster_start_timeout", retryable: true });
    expect(await endState(engineKeyOf(request.attemptId), rayEngine)).toBe("stopped");
  }, 200_000);

  it("refuses a second submission of the same attempt (Ray's submission_id is the attempt's key)", async () => {
    const request = conformanceRequest({ scratch, processes: 2 }, "ray-resubmit", { max_steps: 1 });
    const submission = clusterSubmissionOf(request);
    const id = await engine.submit(submission);
    const again = await engine.submit(submission).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(TunekitError);
    expect(again).toMatchObject({ kind: "conflict", code: "attempt_already_submitted" });
    expect(await engine.find(submission.engineKey)).toBe(id);
    // stopped on the engine (as a stop overdue is), so that the cluster is free for the next test
    await engine.stop(id);
    expect(await endState(id)).toBe("stopped");
    await engine.stop(id); // a job that already ended is not an error
  }, 200_000);

  it("a lost worker node fails the attempt as retryable, and the next attempt resumes from the newest marked checkpoint", async () => {
    const events: WorkerEvent[] = [];
    const first = conformanceRequest({ scratch, processes: 2 }, "ray-lost-node", { max_steps: 2000, checkpoint_every: 2 });
    const handle = backend.launch(first, (event) => events.push(event));
    await untilEvent(events, (event) => event.type === "checkpoint" && event.step >= 2);
    cluster("kill-worker");
    const failed = await handle.finished;
    expect(failed.status, failed.message).toBe("failed");
    expect(failed.retryable, failed.message).toBe(true);
    const checkpoint = latestCompleteCheckpoint(first.runDir);
    expect(checkpoint).not.toBeNull();
    expect(checkpoint!.step).toBeGreaterThanOrEqual(2);

    cluster("start-worker");
    const resumedEvents: WorkerEvent[] = [];
    const retry = conformanceRequest({ scratch, processes: 2 }, "ray-lost-node", { max_steps: checkpoint!.step + 2, checkpoint_every: 2 }, checkpoint!.path, first.runDir, 2);
    const outcome = await backend.launch(retry, (event) => resumedEvents.push(event)).finished;
    expect(outcome.status, outcome.message).toBe("succeeded");
    expect(resumedEvents.find((event) => event.type === "started")).toMatchObject({ resumed_from: checkpoint!.path, world_size: 2 });
    expect(lossCurve(resumedEvents)[0]?.[0]).toBe(checkpoint!.step + 1);
  }, 400_000);

  it("a job created with the openai SDK asking for `tunekit.execution.backend: ray` trains on two Ray nodes; the job object and `tunekit jobs show` say so", async () => {
    if (!existsSync(join(scratch, "tiny-llama", "config.json"))) buildTinyLlama(join(scratch, "tiny-llama"));
    // the server's execution section as tunekit.yaml gives it: local by default, ray for the jobs that ask
    const server = await startServer({
      port: 0,
      dataDir: join(scratch, "server"),
      noAuth: true,
      models: [join(scratch, "tiny-llama")],
      maxConcurrentJobs: 1,
      trainingDefaults: { device: "cpu", max_steps: 3, threads: 1, batch_size: 4, micro_batch_size: 2 },
      maxSeqLen: 64,
      execution: executionSchema.parse({ backend: "local", ray: { address, num_workers: 2, placement_strategy: "STRICT_SPREAD", poll_interval_s: 0.5 } }),
    });
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const file = await client.files.create({ file: await toFile(readFileSync(conformanceData(join(scratch, "data"))), "train.jsonl"), purpose: "fine-tune" });
      const job = await client.fineTuning.jobs.create({ model: "tiny-llama", training_file: file.id, tunekit: { execution: { backend: "ray" } } } as never);
      let current = job;
      for (let tries = 0; tries < 600 && !["succeeded", "failed", "cancelled"].includes(current.status); tries++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        current = await client.fineTuning.jobs.retrieve(job.id);
      }
      expect(current.status, JSON.stringify(current.error)).toBe("succeeded");
      const execution = (current as unknown as { execution: { backend: string; nodes: string[] } }).execution;
      expect(execution.backend).toBe("ray");
      expect(execution.nodes).toHaveLength(2);
      const aliveIds = (await engine.nodes()).map((node) => node.node_id);
      expect(aliveIds.filter((id) => execution.nodes.some((node) => node.includes(id)))).toHaveLength(2);
      const shown = await promisify(execFile)(process.execPath, ["dist/cli/main.js", "jobs", "show", job.id], {
        env: { ...process.env, TUNEKIT_SERVER: server.url, TUNEKIT_API_KEY: "" },
      });
      expect(shown.stdout).toMatch(/backend:\s+ray on /);
      // the Ray job's log, copied into the run folder as the job ran: the API's worker log has it
      const log = await (await fetch(`${server.url}/v1/tunekit/jobs/${job.id}/log`)).text();
      expect(log).toMatch(/^== attempt ftjob-\S+: ray job \S+$/m);
      // the ranks' own lines, without Ray's terminal colours, and without the event lines the journal already has
      expect(log).toMatch(/^\(RayTrainWorker pid=\d+(, ip=[\d.]+)?\) \[tunekit-worker\] /m);
      expect(log).not.toContain("\u001b[");
      expect(log).not.toMatch(/\{"v": ?1, ?"type"/);
      // and the web UI's job page
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        await page.goto(`${server.url}/jobs/${job.id}`);
        const stat = (label: string) => page.locator(".stat", { has: page.locator(".stat-label", { hasText: new RegExp(`^${label}$`) }) }).locator(".stat-value");
        await expect.poll(() => stat("Backend").textContent(), { timeout: 30_000 }).toBe("ray");
        expect(await stat("Nodes").textContent()).toBe(execution.nodes.join(", "));
        await expect.poll(() => page.locator('section[aria-labelledby="worker-log-title"] .log-line').count()).toBeGreaterThan(0);
        mkdirSync(SCREENSHOTS, { recursive: true });
        await page.screenshot({ path: join(SCREENSHOTS, "ray-job.png"), fullPage: true });
      } finally {
        await browser.close();
      }
    } finally {
      await server.close();
    }
  }, 400_000);

  it("on a cluster with token auth: no token is refused naming `execution.ray.token_env`; with the bearer token from token_env the checks pass and a submission is taken, followed and stopped", async () => {
    const token = "tunekit-test-token-0123456789abcdef";
    cluster("stop");
    execFileSync("bash", ["scripts/ray-cluster.sh", "start"], { env: { ...process.env, RAY_AUTH_MODE: "token", RAY_AUTH_TOKEN: token }, stdio: "ignore", timeout: 240_000 });
    const refused = await rayBackend({ token_env: "TUNEKIT_TEST_NO_SUCH_TOKEN" }).backend.launch(conformanceRequest({ scratch, processes: 2 }, "ray-no-token"), () => undefined)
      .finished;
    expect(refused).toMatchObject({ status: "failed", errorCode: "bad_execution_settings", retryable: false });
    expect(refused.message).toContain("execution.ray.token_env");
    expect(refused.message).toContain("HTTP 401");

    // with the token from token_env: the cluster's checks pass, a submission is taken, followed and stopped
    const settings = raySettingsSchema.parse({ address, num_workers: 2, placement_strategy: "STRICT_SPREAD", token_env: "TUNEKIT_TEST_RAY_TOKEN" });
    const withToken = new RayEngine(settings, { ...worker, environment: { TUNEKIT_TEST_RAY_TOKEN: token } });
    await withToken.check(2);
    const request = conformanceRequest({ scratch, processes: 2 }, "ray-token", { max_steps: 2 });
    const id = await withToken.submit(clusterSubmissionOf(request));
    expect(["pending", "running", "succeeded"]).toContain((await withToken.status(id)).state);
    await withToken.stop(id);
    expect(["stopped", "succeeded"]).toContain(await endState(id, withToken));
  }, 400_000);
});
