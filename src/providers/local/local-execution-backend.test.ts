import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../../core/config-schema.js";
import { buildWorkerJobSpec } from "../../core/worker-job-spec.js";
import type { LaunchRequest } from "../../spec/execution-backend.js";
import { RUN_FILES, writeJobFile } from "../../spec/run-folder.js";
import type { WorkerEvent } from "../../spec/worker-events.js";
import { LocalExecutionBackend } from "./local-execution-backend.js";
import { workerProcesses } from "./python-worker.js";
import { packageRoot } from "./worker-environment.js";
import { untilEvent } from "../../../test/helpers/until-event.js";

// The real launch path (`python -m tunekit_worker train <run_dir>/job.json`) on a stand-in worker
// package whose `train` is the protocol fixture of python-worker.test.ts, in the mode the
// environment names.
const python = join(packageRoot(), ".venv", "bin", "python");
const fixture = fileURLToPath(new URL("./python-worker.fixture.py", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "tunekit-local-backend-"));
const workerRoot = join(scratch, "worker");
mkdirSync(join(workerRoot, "tunekit_worker"), { recursive: true });
writeFileSync(join(workerRoot, "tunekit_worker", "__init__.py"), "");
writeFileSync(
  join(workerRoot, "tunekit_worker", "__main__.py"),
  ["import os, runpy, sys", "sys.argv = [os.environ['FIXTURE'], os.environ['FIXTURE_MODE'], sys.argv[2]]", "runpy.run_path(sys.argv[0], run_name='__main__')", ""].join("\n"),
);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function backendIn(mode: string, options: { environment?: NodeJS.ProcessEnv } = {}): LocalExecutionBackend {
  return new LocalExecutionBackend({ python, workerRoot, environment: { ...process.env, FIXTURE: fixture, FIXTURE_MODE: mode, ...options.environment } });
}

let runs = 0;
/** A run folder with its job.json written, as the spec builder's callers write it before launch. */
function launchRequest(name: string): LaunchRequest {
  const runDir = join(scratch, `run-${runs++}-${name}`);
  const defaults = defaultConfig();
  const spec = buildWorkerJobSpec({
    runDir,
    model: "/models/none",
    train: "/data/train.jsonl",
    validation: null,
    data: defaults.data,
    training: defaults.training,
    epochs: 1,
    resumeFrom: null,
  });
  return { attemptId: `ftjob-${name}/1`, jobId: `ftjob-${name}`, runDir, specFile: writeJobFile(runDir, spec), numProcesses: 1 };
}

describe("LocalExecutionBackend", () => {
  it("is the `local` backend of version 1", () => {
    const backend = new LocalExecutionBackend();
    expect({ name: backend.name, version: backend.version }).toEqual({ name: "local", version: 1 });
  });

  it("launches an attempt once: a second launch of its id returns the first handle and starts no second worker", async () => {
    const backend = backendIn("cancellable");
    const request = launchRequest("twice");
    const events: WorkerEvent[] = [];
    const first = backend.launch(request, (event) => events.push(event));
    const second = backend.launch(request, () => {
      throw new Error("a second launch must not start a worker of its own");
    });
    expect(second).toBe(first);
    expect(first.attemptId).toBe("ftjob-twice/1");
    await untilEvent(events, (event) => event.type === "log" && event.message === "ready", 20_000);
    expect(workerProcesses(request.runDir)).toHaveLength(1);
    expect(await backend.status(request.attemptId)).toEqual({ attemptId: request.attemptId, state: "running", outcome: null });

    const outcome = await backend.cancel(request.attemptId, "pause");
    expect(outcome).toMatchObject({ status: "stopped", errorCode: null, checkpointPath: join(request.runDir, "checkpoints", "step-000002") });
    expect(await first.finished).toEqual(outcome);
    expect(await backend.status(request.attemptId)).toEqual({ attemptId: request.attemptId, state: "stopped", outcome });
    // an ended attempt launched again is still that attempt
    expect(backend.launch(request, () => undefined)).toBe(first);
    expect(workerProcesses(request.runDir)).toEqual([]);
    expect(events.filter((event) => event.type === "started")).toHaveLength(1);
  });

  it("a new attempt of the same job is a new worker", async () => {
    const backend = backendIn("done");
    const request = launchRequest("again");
    const first = await backend.launch(request, () => undefined).finished;
    const next = backend.launch({ ...request, attemptId: "ftjob-again/2" }, () => undefined);
    expect(await next.finished).toMatchObject({ status: "succeeded", trainedTokens: 64 });
    expect(first).toMatchObject({ status: "succeeded" });
    expect((await backend.status("ftjob-again/2")).state).toBe("succeeded");
  });

  it("logs gives the attempt's own worker.log lines, the last `tail` of them", async () => {
    const backend = backendIn("sigkill");
    const request = launchRequest("logs");
    writeFileSync(join(request.runDir, RUN_FILES.workerLog), "a line of an earlier attempt\n");
    const outcome = await backend.launch(request, () => undefined).finished;
    expect(outcome).toMatchObject({ status: "failed", errorCode: "worker_failed", retryable: true });
    expect(await backend.logs(request.attemptId, { tail: 2 })).toEqual(["stderr line 79", "about to die"]);
    const all = await backend.logs(request.attemptId, { tail: 1000 });
    expect(all[0]).toBe("fixture worker starting in mode sigkill");
    expect(all).toHaveLength(82);
    // all of them: fewer than the default tail of 100
    expect(await backend.logs(request.attemptId)).toEqual(all);
  });

  it("answers for an attempt it never launched: unknown, no logs, nothing to cancel", async () => {
    const backend = backendIn("done");
    expect(await backend.status("ftjob-nobody/1")).toEqual({ attemptId: "ftjob-nobody/1", state: "unknown", outcome: null });
    expect(await backend.logs("ftjob-nobody/1")).toEqual([]);
    expect(await backend.cancel("ftjob-nobody/1", "cancel")).toBeNull();
  });

  it("reports a line that is not a protocol event as a warning event (the server's journal shows it)", async () => {
    const backend = backendIn("malformed");
    const events: WorkerEvent[] = [];
    await backend.launch(launchRequest("malformed"), (event) => events.push(event)).finished;
    const warnings = events.filter((event) => event.type === "log" && event.level === "warn");
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ message: expect.stringContaining("not a protocol v1 event") });
  });

  it("a missing worker environment is a failed launch that is not retried and names `tunekit setup`", async () => {
    const backend = new LocalExecutionBackend({ environment: { ...process.env, TUNEKIT_VENV: join(scratch, "no-venv") } });
    const request = launchRequest("no-venv");
    const handle = backend.launch(request, () => undefined);
    const outcome = await handle.finished;
    expect(outcome).toMatchObject({ status: "failed", errorCode: "worker_environment", retryable: false });
    expect(outcome.message).toContain("tunekit setup");
    expect(await handle.cancel()).toBe(outcome);
    expect((await handle.workerOutcome).status).toBe("failed");
    expect((await backend.status(request.attemptId)).state).toBe("failed");
  });
});
