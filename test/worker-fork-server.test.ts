import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../src/core/config-schema.js";
import { buildWorkerJobSpec } from "../src/core/worker-job-spec.js";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { FORK_SERVER_VARIABLE } from "../src/providers/local/worker-fork-server.js";
import type { LaunchRequest } from "../src/spec/execution-backend.js";
import { writeJobFile } from "../src/spec/run-folder.js";
import type { WorkerEvent } from "../src/spec/worker-events.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

/*
 * The local backend's own worker fork server (src/providers/local/worker-fork-server.ts), as
 * `tunekit server` runs it: the first run spawns while the fork server imports torch, the next
 * ones fork from it, with the same events and outcomes; a cancelled forked run stops with its
 * checkpoint; close() ends the fork server. The environment here leaves out the suite's shared
 * fork server (test/global-setup.ts), so the backend starts its own.
 */

let scratch: string;
let model: string;
let train: string;
const environment: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false" };
delete environment[FORK_SERVER_VARIABLE];

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "tunekit-fork-backend-"));
  model = buildTinyLlama(join(scratch, "tiny-llama"));
  train = join(scratch, "train.jsonl");
  const lines = Array.from({ length: 16 }, (_, index) =>
    JSON.stringify({
      messages: [
        { role: "user", content: `What color is apple ${index}?` },
        { role: "assistant", content: "Red." },
      ],
    }),
  );
  writeFileSync(train, `${lines.join("\n")}\n`);
}, 120_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let runs = 0;
function request(maxSteps: number): LaunchRequest {
  const runDir = join(scratch, `run-${++runs}`);
  const defaults = defaultConfig();
  const spec = buildWorkerJobSpec({
    runDir,
    model,
    train,
    validation: null,
    data: { ...defaults.data, max_seq_len: 64 },
    training: { ...defaults.training, device: "cpu", max_steps: maxSteps, threads: 1, checkpoint_every: 1000, eval_every: 1000 },
    epochs: maxSteps > 10 ? 100 : 1,
    resumeFrom: null,
  });
  return { attemptId: `ftjob-fork${runs}/1`, jobId: `ftjob-fork${runs}`, runDir, specFile: writeJobFile(runDir, spec), numProcesses: 1 };
}

async function until(what: string, condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!haveWorker)("the local backend's worker fork server", () => {
  it("spawns the first run, forks the next ones with the same events, cancels a forked run with its checkpoint, and ends with close()", async () => {
    const backend = new LocalExecutionBackend({ python, workerRoot, environment, forkServer: true });
    try {
      const firstEvents: WorkerEvent[] = [];
      const first = await backend.launch(request(2), (event) => firstEvents.push(event)).finished;
      expect(first.status, first.message).toBe("succeeded");
      await until("the fork server to be ready", () => backend.forkServerState?.ready === true);
      expect(backend.forkServerState).toMatchObject({ forkedRuns: 0, problem: null });

      const secondEvents: WorkerEvent[] = [];
      const second = await backend.launch(request(2), (event) => secondEvents.push(event)).finished;
      expect(second.status, second.message).toBe("succeeded");
      expect(second.adapterPath).not.toBeNull();
      expect(backend.forkServerState?.forkedRuns).toBe(1);
      expect(secondEvents.map((event) => event.type)).toEqual(firstEvents.map((event) => event.type));

      const thirdEvents: WorkerEvent[] = [];
      const third = backend.launch(request(100_000), (event) => thirdEvents.push(event));
      await until("the forked run's first step", () => thirdEvents.some((event) => event.type === "metrics"));
      expect(backend.forkServerState?.forkedRuns).toBe(2);
      const stopped = await third.cancel();
      expect(stopped.status).toBe("stopped");
      expect(stopped.checkpointPath).toMatch(/step-\d+$/);
      expect(thirdEvents.at(-1)?.type).toBe("cancelled");
    } finally {
      await backend.close();
    }
    expect(backend.forkServerState?.ready).toBe(false);
  }, 300_000);
});
