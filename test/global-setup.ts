import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
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
  const stopForkServer = haveWorker && process.env.TUNEKIT_TEST_FORKSERVER !== "0" ? await startForkServer(join(folder, "worker.sock")) : async () => {};
  return async () => {
    await stopForkServer();
    rmSync(folder, { recursive: true, force: true });
  };
}

async function startForkServer(socketPath: string): Promise<() => Promise<void>> {
  const environment: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: [workerRoot, process.env.PYTHONPATH].filter(Boolean).join(":"), PYTHONUNBUFFERED: "1" };
  delete environment.TUNEKIT_FORKSERVER;
  const server = spawn(python, ["-m", "tunekit_worker", "forkserver", socketPath], { env: environment, stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));
  const lines = createInterface({ input: server.stdout! });
  const ready = await Promise.race([new Promise<string>((resolve) => lines.once("line", resolve)), exited.then((code) => `exited ${code}`)]);
  if (!ready.includes('"ready"')) throw new Error(`the worker fork server did not start: ${ready}`);
  lines.on("line", () => {});
  process.env.TUNEKIT_FORKSERVER = socketPath;
  return async () => {
    delete process.env.TUNEKIT_FORKSERVER;
    server.stdin!.end();
    await exited;
  };
}
