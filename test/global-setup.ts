import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trainEnvironment } from "../src/providers/local/python-worker.js";
import { FORK_SERVER_VARIABLE, WorkerForkServer } from "../src/providers/local/worker-fork-server.js";
import { haveWorker, python, TINY_LLAMA_SHARED_VARIABLE, workerRoot } from "./helpers/tiny-llama.js";

/**
 * Set up once per `vitest run`, before the test workers start (so that every worker, and every
 * process a test spawns, inherits the variables set here); undone at the end.
 *
 * - One folder where the first test file that asks for the tiny Llama builds it and the others copy
 *   it (test/helpers/tiny-llama.ts): 19 builds of ~5 s (Python + torch import) became one.
 * - One worker fork server (worker/tunekit_worker/forkserver.py), as `tunekit server` runs one: the
 *   training runs of every test (the server's jobs and `tunekit train` alike) fork from it instead
 *   of importing torch, transformers and peft each (~3 s of CPU per run on this machine). It is
 *   started with the environment Tunekit gives its workers, so their runs match it; a run whose
 *   import-time environment differs runs in its own process, as without a server.
 *   TUNEKIT_TEST_FORKSERVER=0 runs every worker in its own process.
 */
export async function setup(): Promise<() => Promise<void>> {
  const folder = mkdtempSync(join(tmpdir(), "tunekit-test-shared-"));
  process.env[TINY_LLAMA_SHARED_VARIABLE] = folder;
  const stopForkServer = haveWorker && process.env.TUNEKIT_TEST_FORKSERVER !== "0" ? await startForkServer() : async () => {};
  return async () => {
    await stopForkServer();
    rmSync(folder, { recursive: true, force: true });
  };
}

async function startForkServer(): Promise<() => Promise<void>> {
  // the server's own fork server class, with the environment Tunekit gives its `train` workers
  const server = new WorkerForkServer({ python, environment: trainEnvironment(process.env, workerRoot) });
  const socketPath = await server.start();
  if (socketPath === null) throw new Error(server.problem ?? "the worker fork server did not start");
  process.env[FORK_SERVER_VARIABLE] = socketPath;
  return async () => {
    delete process.env[FORK_SERVER_VARIABLE];
    await server.close();
  };
}
