import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultConfig, type TrainingConfig } from "../../src/core/config-schema.js";
import { buildWorkerJobSpec } from "../../src/core/worker-job-spec.js";
import type { ExecutionBackend, LaunchRequest, RunOutcome } from "../../src/spec/execution-backend.js";
import { checkpointStep, readCompleteCheckpoint, RUN_FILES, writeJobFile } from "../../src/spec/run-folder.js";
import type { WorkerEvent } from "../../src/spec/worker-events.js";
import { untilEvent } from "./until-event.js";
import { buildTinyLlama } from "./tiny-llama.js";

/**
 * The execution backend conformance suite (spec/execution-backend.ts): the same checks for every
 * backend (`local`, `ray`, `slurm`), run on the real worker with a tiny model. A backend's test
 * file starts what the backend needs (a Ray cluster, a Slurm cluster) and hands the suite a target.
 */
export interface ConformanceTarget {
  /** the backend under test */
  backend: ExecutionBackend;
  /** its name (`local`, `ray`, `slurm`) */
  name: string;
  /** training processes of each launch (Ray workers, Slurm nodes) */
  processes: number;
  /** a folder on storage every node of the cluster reads and writes */
  scratch: string;
  /** the same backend with settings the cluster must refuse, and the setting the error must name */
  refused: Array<{ label: string; backend: ExecutionBackend; field: string }>;
  /** the events of the suite's full 6-step run, for the backend's own checks on them (a cluster job costs half a minute to start) */
  onTrained?: (events: WorkerEvent[]) => void;
}

const jsonl = (records: unknown[]) => `${records.map((record) => JSON.stringify(record)).join("\n")}\n`;

/** 24 short chat examples, the same for every backend (the loss curves of different backends compare). */
export function conformanceData(folder: string): string {
  mkdirSync(folder, { recursive: true });
  const path = join(folder, "train.jsonl");
  const words = ["red", "green", "blue", "cyan", "gold", "gray"];
  const records = Array.from({ length: 24 }, (_, index) => ({
    messages: [
      { role: "user", content: `name colour ${index}` },
      { role: "assistant", content: `${words[index % words.length]} ${words[(index * 5) % words.length]}` },
    ],
  }));
  writeFileSync(path, jsonl(records));
  return path;
}

let launches = 0;
/** this process's tag in job ids: a cluster that outlived an earlier run still knows that run's attempt keys */
const runTag = Math.random().toString(36).slice(2, 8);

/** A run folder with its job.json written for the tiny model (as the spec builder's callers write it). */
export function conformanceRequest(
  target: Pick<ConformanceTarget, "scratch" | "processes">,
  name: string,
  training: Partial<TrainingConfig> = {},
  resumeFrom: string | null = null,
  runDir?: string,
  attempt = 1,
): LaunchRequest {
  const model = join(target.scratch, "tiny-llama");
  if (!existsSync(join(model, "config.json"))) buildTinyLlama(model);
  const train = conformanceData(join(target.scratch, "data"));
  const folder = runDir ?? join(target.scratch, `run-${launches++}-${name}`);
  const defaults = defaultConfig();
  const spec = buildWorkerJobSpec({
    runDir: folder,
    model,
    train,
    validation: null,
    data: { ...defaults.data, max_seq_len: 64 },
    training: {
      ...defaults.training,
      device: "cpu",
      batch_size: 4,
      micro_batch_size: 2,
      learning_rate: 0.001,
      lora: { ...defaults.training.lora, r: 4, alpha: 8, dropout: 0 },
      threads: 1,
      max_steps: 6,
      checkpoint_every: 2,
      num_processes: target.processes,
      ...training,
    },
    epochs: 50,
    resumeFrom,
  });
  return {
    attemptId: `ftjob-${name}-${runTag}/${attempt}`,
    jobId: `ftjob-${name}-${runTag}`,
    runDir: folder,
    specFile: writeJobFile(folder, spec),
    numProcesses: target.processes,
  };
}

/** The train_loss of each step, in step order. */
export function lossCurve(events: WorkerEvent[]): Array<[number, number]> {
  return events.flatMap((event) => (event.type === "metrics" ? [[event.step, event.train_loss] as [number, number]] : []));
}

function expectMarkedCheckpoint(path: string | null): number {
  expect(path).not.toBeNull();
  const step = checkpointStep(path!.split("/").at(-1)!);
  expect(step).not.toBeNull();
  expect(readCompleteCheckpoint(path!, step!)).not.toBeNull();
  return step!;
}

/** Run the conformance suite against the target `get()` returns (called inside the tests, after the file's beforeAll). */
export function describeBackendConformance(label: string, get: () => ConformanceTarget, timeoutMs = 300_000): void {
  describe(`execution backend conformance: ${label}`, () => {
    it(
      "a launch trains to the end: `started` with the world size, metrics for every step, marked checkpoints, `done`, and a succeeded outcome",
      async () => {
        const target = get();
        expect(target.backend.name).toBe(target.name);
        const events: WorkerEvent[] = [];
        const request = conformanceRequest(target, `${target.name}-trains`);
        const handle = target.backend.launch(request, (event) => events.push(event));
        const outcome = await handle.finished;
        expect(outcome, outcome.message).toMatchObject({ status: "succeeded", errorCode: null });
        const started = events.find((event) => event.type === "started");
        expect(started).toMatchObject({ world_size: target.processes });
        if (started?.type === "started") expect(started.nodes).toHaveLength(target.processes);
        expect(lossCurve(events).map(([step]) => step)).toEqual([1, 2, 3, 4, 5, 6]);
        const checkpoints = events.flatMap((event) => (event.type === "checkpoint" ? [event.path] : []));
        expect(checkpoints.length).toBeGreaterThanOrEqual(2);
        for (const path of checkpoints) expectMarkedCheckpoint(path);
        expect(events.at(-1)?.type).toBe("done");
        expect(outcome.adapterPath && existsSync(outcome.adapterPath)).toBeTruthy();
        expect(outcome.trainedTokens).toBeGreaterThan(0);
        expect((await target.backend.status(handle.attemptId)).state).toBe("succeeded");
        // the worker's log in the run folder, where the job page and GET /v1/tunekit/jobs/{id}/log read it, whichever backend ran the job
        expect(readFileSync(join(request.runDir, RUN_FILES.workerLog), "utf8")).toMatch(/\S/);
        expect((await target.backend.logs(handle.attemptId)).length).toBeGreaterThan(0);
        target.onTrained?.(events);
      },
      timeoutMs,
    );

    it(
      "a second launch of the same attempt returns its handle and starts no second run",
      async () => {
        const target = get();
        const request = conformanceRequest(target, `${target.name}-twice`, { max_steps: 2 });
        const events: WorkerEvent[] = [];
        const first = target.backend.launch(request, (event) => events.push(event));
        const second = target.backend.launch(request, () => {
          throw new Error("a second launch must not deliver events of its own");
        });
        expect(second).toBe(first);
        const outcome = await first.finished;
        expect(outcome.status, outcome.message).toBe("succeeded");
        expect(events.filter((event) => event.type === "started")).toHaveLength(1);
        expect(readFileSync(join(request.runDir, RUN_FILES.journal), "utf8").match(/"type": ?"started"/g)).toHaveLength(1);
      },
      timeoutMs,
    );

    it(
      "cancel stops the run with a marked checkpoint: outcome `stopped`, the last event `cancelled`",
      async () => {
        const target = get();
        const events: WorkerEvent[] = [];
        const handle = target.backend.launch(conformanceRequest(target, `${target.name}-cancel`, { max_steps: 2000, checkpoint_every: 1000 }), (event) => events.push(event));
        await untilEvent(events, (event) => event.type === "metrics" && event.step >= 2);
        const outcome: RunOutcome = await handle.cancel();
        expect(outcome.status, outcome.message).toBe("stopped");
        const step = expectMarkedCheckpoint(outcome.checkpointPath);
        expect(step).toBeGreaterThanOrEqual(2);
        expect(events.at(-1)).toMatchObject({ type: "cancelled", checkpoint_path: outcome.checkpointPath });
      },
      timeoutMs,
    );

    it(
      "pause writes a checkpoint, and the next attempt resumes from it at the step after",
      async () => {
        const target = get();
        const events: WorkerEvent[] = [];
        const first = conformanceRequest(target, `${target.name}-pause`, { max_steps: 2000, checkpoint_every: 1000 });
        const handle = target.backend.launch(first, (event) => events.push(event));
        await untilEvent(events, (event) => event.type === "metrics" && event.step >= 2);
        const paused = await handle.pause();
        expect(paused.status, paused.message).toBe("stopped");
        const step = expectMarkedCheckpoint(paused.checkpointPath);
        const resumedEvents: WorkerEvent[] = [];
        const resumed = target.backend.launch(
          conformanceRequest(target, `${target.name}-pause`, { max_steps: step + 2, checkpoint_every: 1000 }, paused.checkpointPath, first.runDir, 2),
          (event) => resumedEvents.push(event),
        );
        const outcome = await resumed.finished;
        expect(outcome.status, outcome.message).toBe("succeeded");
        expect(resumedEvents.find((event) => event.type === "started")).toMatchObject({ resumed_from: paused.checkpointPath });
        expect(lossCurve(resumedEvents).map(([at]) => at)).toEqual([step + 1, step + 2]);
      },
      timeoutMs,
    );

    it(
      "settings the cluster refuses fail the attempt before anything runs, with the setting named",
      async () => {
        const target = get();
        for (const refused of target.refused) {
          const outcome = await refused.backend.launch(conformanceRequest(target, `${target.name}-refused-${refused.label}`), () => undefined).finished;
          expect(outcome, refused.label).toMatchObject({ status: "failed", errorCode: "bad_execution_settings", retryable: false });
          expect(outcome.message, refused.label).toContain(refused.field);
        }
      },
      timeoutMs,
    );
  });
}
