import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";

/** The variable that sends a worker command through a fork server (worker/tunekit_worker/forkserver.py). */
export const FORK_SERVER_VARIABLE = "TUNEKIT_FORKSERVER";

export interface WorkerForkServerOptions {
  python: string;
  /** the environment the worker commands get (python-worker.ts workerEnvironment): the server starts with it, so their runs match */
  environment: NodeJS.ProcessEnv;
  /** how long to wait for the libraries to import (default 120 s) */
  startTimeoutMs?: number;
}

/**
 * One `python -m tunekit_worker forkserver SOCKET` for the server's lifetime: torch, transformers
 * and peft imported once, and every single-process run forked from it (a tiny job's start went from
 * ~3 s to ~0.1 s of CPU here). The worker command is spawned as before, with TUNEKIT_FORKSERVER set:
 * that process proxies the forked run's stdio, signals and exit status, so cancel, pause, recovery
 * and the exit-code table see the process they spawned. A run the fork server cannot take (another
 * import-time environment) runs in its own process. When the fork server fails to start or dies,
 * runs spawn as without it.
 */
export class WorkerForkServer {
  private child: ChildProcess | null = null;
  private folder: string | null = null;
  private starting: Promise<string | null> | null = null;
  private socketPath: string | null = null;
  /** runs forked so far (the fork server reports each one) */
  forkedRuns = 0;
  /** why the fork server is not in use, when it is not */
  problem: string | null = null;

  constructor(private readonly options: WorkerForkServerOptions) {}

  /** The socket of a ready fork server, or null (still starting, failed, closed): then spawn as usual. */
  get ready(): string | null {
    return this.socketPath;
  }

  /** Start it once; resolves with the socket when the libraries are imported, null when it could not start. */
  start(): Promise<string | null> {
    this.starting ??= this.spawnServer();
    return this.starting;
  }

  private async spawnServer(): Promise<string | null> {
    this.folder = mkdtempSync(join(tmpdir(), "tunekit-forkserver-"));
    const socketPath = join(this.folder, "worker.sock");
    const environment = { ...this.options.environment };
    delete environment[FORK_SERVER_VARIABLE];
    const child = spawn(this.options.python, ["-m", "tunekit_worker", "forkserver", socketPath], { env: environment, stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    const exited = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(`exited (${signal ?? code})`)));
    child.once("error", (error) => (this.problem = error.message));
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on("line", (line) => stderr.push(line) > 20 && stderr.shift());
    const lines = createInterface({ input: child.stdout! });
    const first = new Promise<string>((resolve) => lines.once("line", resolve));
    const waiting = new AbortController();
    const timeout = sleep(this.options.startTimeoutMs ?? 120_000, "did not get ready in time", { signal: waiting.signal }).catch(() => "");
    const answer = await Promise.race([first, exited, timeout]);
    waiting.abort(); // the timer must not hold the process open
    lines.on("line", (line) => {
      if (line.startsWith('{"forked"')) this.forkedRuns += 1;
    });
    if (!answer.includes('"ready"')) {
      this.problem = `the worker fork server ${answer}: ${stderr.slice(-3).join(" | ")}`;
      await this.close();
      return null;
    }
    void exited.then((how) => {
      if (this.socketPath === null) return;
      this.problem = `the worker fork server ${how}; runs start in processes of their own`;
      this.socketPath = null;
    });
    this.socketPath = socketPath;
    return socketPath;
  }

  /** End it (runs in flight finish first: the fork server waits for its children). */
  async close(): Promise<void> {
    const child = this.child;
    this.socketPath = null;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.stdin?.end();
      const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      await exited;
      clearTimeout(killer);
    }
    if (this.folder) rmSync(this.folder, { recursive: true, force: true });
    this.folder = null;
  }
}
