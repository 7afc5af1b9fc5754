import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, type WriteStream } from "node:fs";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { constants as osConstants } from "node:os";
import { TunekitError } from "../../core/errors.js";
import type { PythonWorker, PythonWorkerCall } from "../../spec/python-worker.js";
import { RUN_FILES, writeJobFile } from "../../spec/run-folder.js";
import { workerStatusOf, type WorkerStatus } from "../../spec/worker-exit.js";
import { WorkerExitCode, parseWorkerEvent, type DoneEvent, type WorkerEvent } from "../../spec/worker-events.js";
import type { WorkerPlan } from "../../spec/worker-plan.js";
import { ensureWorkerEnvironment } from "./worker-environment.js";

/**
 * The one bridge between the TypeScript side and Tunekit's Python worker (`python -m
 * tunekit_worker <command>`, never through a shell):
 *
 * - environment: which interpreter and package folder run it (`resolveWorker`: the ones given,
 *   else the `tunekit setup` venv, checked and never installed);
 * - spawning: `train` as a supervised process whose stdout is protocol v1 events (WorkerProcess),
 *   the short commands that answer one JSON object (`plan`, `export`, `convert-gguf`: runWorkerJson),
 *   and the long-lived `serve` (PythonWorkerBridge.spawn);
 * - the /proc scan for the workers of a run folder (`workerProcesses`), which recovery uses;
 * - exit codes: an ended worker becomes a WorkerStatus through the one table of spec/worker-exit.ts.
 *
 * PythonWorkerBridge is the spec/python-worker.ts interface that serve uses; the local execution
 * backend (local-execution-backend.ts) trains through it.
 */

export interface PythonWorkerOptions {
  /** the worker's Python; default: the `tunekit setup` venv (checked when a command starts) */
  python?: string;
  /** folder holding the `tunekit_worker` package; default: the one shipped with Tunekit */
  workerRoot?: string;
  /** the environment the worker starts from (and where TUNEKIT_VENV is read); default process.env */
  environment?: NodeJS.ProcessEnv;
}

export interface ResolvedWorker {
  python: string;
  workerRoot: string;
}

/**
 * The interpreter and package folder of the worker: the ones given, else those of the `tunekit
 * setup` venv (ensureWorkerEnvironment: a TunekitError naming `tunekit setup` when it is missing
 * or stale). Checked at every call, so a `tunekit setup` run meanwhile counts.
 */
export function resolveWorker(options: PythonWorkerOptions = {}): ResolvedWorker {
  let python = options.python;
  let root = options.workerRoot;
  if (!python || !root) {
    const environment = ensureWorkerEnvironment(options.environment);
    python ??= environment.python;
    root ??= environment.workerRoot;
  }
  return { python, workerRoot: root };
}

// --- train: one supervised worker process (protocol v1, src/spec/worker-events.ts)

export type { WorkerStatus };

export interface ProtocolError {
  /** the stdout line that is not a valid v1 event (cut at 2,000 characters) */
  line: string;
  message: string;
}

export interface WorkerOutcome {
  status: WorkerStatus;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** one sentence for the user: what happened */
  message: string;
  /** the last lines the worker wrote on stderr */
  stderrTail: string[];
  protocolErrors: ProtocolError[];
  done: DoneEvent | null;
  /** the `cancelled` event, when the worker wrote one */
  cancelled: Extract<WorkerEvent, { type: "cancelled" }> | null;
  /** the last `error` event, when the worker wrote one */
  error: Extract<WorkerEvent, { type: "error" }> | null;
  /** the last `checkpoint` event seen */
  lastCheckpoint: Extract<WorkerEvent, { type: "checkpoint" }> | null;
  /** cancel() was called before the worker ended */
  cancelRequested: boolean;
}

export interface WorkerCommand {
  command: string;
  args: string[];
}

/** `python -m tunekit_worker train SPEC`, or through torch.distributed.run for several processes. */
export function workerCommand(python: string, specPath: string, numProcesses = 1): WorkerCommand {
  if (numProcesses > 1) {
    return {
      command: python,
      args: ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", String(numProcesses), "-m", "tunekit_worker", "train", specPath],
    };
  }
  return { command: python, args: ["-m", "tunekit_worker", "train", specPath] };
}

export interface StartWorkerOptions {
  command: WorkerCommand;
  runDir: string;
  /** written to <run_dir>/job.json before launch (writeJobFile); the command should name that file */
  spec?: unknown;
  /** prepended to PYTHONPATH */
  pythonPath?: string;
  environment?: NodeJS.ProcessEnv;
  onEvent?: (event: WorkerEvent) => void;
  onProtocolError?: (error: ProtocolError) => void;
  onStderr?: (line: string) => void;
  /** stderr lines kept for the outcome (default 50) */
  stderrTailLines?: number;
  /** after cancel(), SIGKILL the worker when it has not exited within this many ms (default 10 minutes) */
  cancelTimeoutMs?: number;
}

export const JOB_FILE = RUN_FILES.job;
export const EVENTS_FILE = RUN_FILES.events;
export const WORKER_LOG_FILE = RUN_FILES.workerLog;

export function signalName(signal: NodeJS.Signals | null): string {
  if (!signal) return "";
  const number = (osConstants.signals as Record<string, number>)[signal];
  return number === undefined ? signal : `${signal} (${number})`;
}

function describeOutcome(status: WorkerStatus, outcome: Omit<WorkerOutcome, "status" | "message">): string {
  const tail = outcome.stderrTail.length > 0 ? "" : " (no stderr output)";
  if (outcome.signal && status === "done") return `training finished (the worker was then killed by signal ${signalName(outcome.signal)} while exiting)`;
  if (outcome.signal) {
    const why = outcome.signal === "SIGKILL" && !outcome.cancelRequested ? "; SIGKILL from outside usually means the machine ran out of memory" : "";
    return `worker was killed by signal ${signalName(outcome.signal)}${outcome.cancelRequested ? " after cancel" : ""}${why}${tail}`;
  }
  switch (status) {
    case "done":
      return "training finished";
    case "cancelled":
      return outcome.cancelled?.checkpoint_path
        ? `cancelled at step ${outcome.cancelled.step}; checkpoint ${outcome.cancelled.checkpoint_path}`
        : `cancelled${outcome.cancelled ? ` at step ${outcome.cancelled.step}` : ""} without a checkpoint`;
    case "bad_config":
      return `the worker refused the job spec: ${outcome.error?.message ?? `exit ${outcome.exitCode}`}`;
    case "diverged":
      return `training diverged: ${outcome.error?.message ?? "loss became NaN or inf"}`;
    case "failed":
      if (outcome.exitCode === WorkerExitCode.done) return "worker exited 0 without a `done` event";
      return `worker failed with exit status ${outcome.exitCode}${outcome.error ? `: ${outcome.error.message}` : ""}${tail}`;
  }
}

/** The outcome of a finished worker: the one exit table of spec/worker-exit.ts. */
export function classifyExit(
  exitCode: number | null,
  signal: NodeJS.Signals | null,
  seen: { done: DoneEvent | null; cancelled: WorkerOutcome["cancelled"]; error: WorkerOutcome["error"]; cancelRequested: boolean },
): WorkerStatus {
  return workerStatusOf(exitCode, signal, {
    done: seen.done !== null,
    cancelled: seen.cancelled !== null,
    errorCode: seen.error?.code ?? null,
    cancelRequested: seen.cancelRequested,
  });
}

/** The environment of a `train` worker (and of the fork server it may fork from: worker-fork-server.ts). */
export function trainEnvironment(base: NodeJS.ProcessEnv | undefined, pythonPath: string | undefined): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = { ...(base ?? process.env), PYTHONUNBUFFERED: "1" };
  if (pythonPath) environment.PYTHONPATH = [pythonPath, environment.PYTHONPATH].filter(Boolean).join(delimiter);
  return environment;
}

export class WorkerProcess {
  readonly pid: number | undefined;
  readonly finished: Promise<WorkerOutcome>;
  private readonly child: ChildProcess;
  private cancelCount = 0;
  private killTimer: NodeJS.Timeout | undefined;
  private exited = false;

  constructor(private readonly options: StartWorkerOptions) {
    const { runDir } = options;
    mkdirSync(runDir, { recursive: true });
    if (options.spec) writeJobFile(runDir, options.spec);
    const eventsFile: WriteStream = createWriteStream(join(runDir, EVENTS_FILE), { flags: "a" });
    const logFile: WriteStream = createWriteStream(join(runDir, WORKER_LOG_FILE), { flags: "a" });
    const environment = trainEnvironment(options.environment, options.pythonPath);

    // own process group: a Ctrl-C in the terminal reaches the supervisor only, which forwards
    // SIGTERM once; the group lets a forced stop reach torchrun's children too
    const child = spawn(options.command.command, options.command.args, {
      shell: false,
      detached: process.platform !== "win32",
      stdio: ["ignore", "pipe", "pipe"],
      env: environment,
    });
    this.child = child;
    this.pid = child.pid;

    const stderrTail: string[] = [];
    const tailLimit = options.stderrTailLines ?? 50;
    const protocolErrors: ProtocolError[] = [];
    const seen: { done: DoneEvent | null; cancelled: WorkerOutcome["cancelled"]; error: WorkerOutcome["error"]; lastCheckpoint: WorkerOutcome["lastCheckpoint"] } = {
      done: null,
      cancelled: null,
      error: null,
      lastCheckpoint: null,
    };

    const stdoutClosed = new Promise<void>((resolve) => {
      if (!this.child.stdout) return resolve();
      const lines = createInterface({ input: this.child.stdout, crlfDelay: Infinity });
      lines.on("line", (line) => {
        if (line.trim() === "") return;
        let event: WorkerEvent;
        try {
          event = parseWorkerEvent(line);
        } catch (error) {
          const problem: ProtocolError = { line: line.slice(0, 2000), message: protocolMessage(error) };
          protocolErrors.push(problem);
          options.onProtocolError?.(problem);
          return;
        }
        eventsFile.write(`${line}\n`);
        if (event.type === "done") seen.done = event;
        else if (event.type === "cancelled") seen.cancelled = event;
        else if (event.type === "error") seen.error = event;
        else if (event.type === "checkpoint") seen.lastCheckpoint = event;
        options.onEvent?.(event);
      });
      lines.on("close", () => resolve());
    });
    const stderrClosed = new Promise<void>((resolve) => {
      if (!this.child.stderr) return resolve();
      const lines = createInterface({ input: this.child.stderr, crlfDelay: Infinity });
      lines.on("line", (line) => {
        logFile.write(`${line}\n`);
        stderrTail.push(line);
        if (stderrTail.length > tailLimit) stderrTail.shift();
        options.onStderr?.(line);
      });
      lines.on("close", () => resolve());
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
      this.child.on("error", (error) => resolve({ code: null, signal: null, spawnError: error }));
      this.child.on("exit", (code, signal) => resolve({ code, signal }));
    });

    this.finished = (async () => {
      const { code, signal, spawnError } = await exited;
      this.exited = true;
      if (this.killTimer) clearTimeout(this.killTimer);
      // a grandchild that inherited stdout could keep the pipes open: give them a moment, then stop reading
      if (!spawnError) await Promise.race([Promise.all([stdoutClosed, stderrClosed]), sleep(5_000, undefined, { ref: false })]);
      child.stdout?.destroy();
      child.stderr?.destroy();
      await Promise.all([closeStream(eventsFile), closeStream(logFile)]);
      const cancelRequested = this.cancelCount > 0;
      if (spawnError) {
        return {
          status: "failed",
          exitCode: null,
          signal: null,
          message: `could not start the worker \`${options.command.command}\`: ${spawnError.message}`,
          stderrTail,
          protocolErrors,
          ...seen,
          cancelRequested,
        } satisfies WorkerOutcome;
      }
      const status = classifyExit(code, signal, { ...seen, cancelRequested });
      const partial = { exitCode: code, signal, stderrTail, protocolErrors, ...seen, cancelRequested };
      return { status, message: describeOutcome(status, partial), ...partial } satisfies WorkerOutcome;
    })();
  }

  /** Has the process exited? */
  get running(): boolean {
    return !this.exited;
  }

  /**
   * First call: SIGTERM (the worker writes a checkpoint and exits with the `cancelled` code);
   * SIGKILL when it has not exited within cancelTimeoutMs. A second call sends SIGKILL at once.
   * Resolves with the outcome.
   */
  cancel(): Promise<WorkerOutcome> {
    if (this.exited) return this.finished;
    this.cancelCount += 1;
    if (this.cancelCount === 1) {
      this.signal("SIGTERM", false);
      this.killTimer = setTimeout(() => this.signal("SIGKILL", true), this.options.cancelTimeoutMs ?? 600_000);
      this.killTimer.unref();
    } else {
      this.signal("SIGKILL", true);
    }
    return this.finished;
  }

  /** Forced stop without waiting (used when the supervisor itself is going away). */
  kill(): void {
    if (!this.exited) this.signal("SIGKILL", true);
  }

  private signal(signal: NodeJS.Signals, wholeGroup: boolean): void {
    if (this.exited || this.pid === undefined) return;
    try {
      if (wholeGroup && process.platform !== "win32") process.kill(-this.pid, signal);
      else this.child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function protocolMessage(error: unknown): string {
  if (error instanceof SyntaxError) return `not JSON: ${error.message}`;
  const issues = (error as { issues?: Array<{ path: PropertyKey[]; message: string }> }).issues;
  if (issues) return issues.map((issue) => `\`${issue.path.map(String).join(".") || "(event)"}\`: ${issue.message}`).join("; ");
  return error instanceof Error ? error.message : String(error);
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve) => stream.end(() => resolve()));
}

export function startWorker(options: StartWorkerOptions): WorkerProcess {
  return new WorkerProcess(options);
}

// --- the short commands: one JSON answer (plan, export, convert-gguf)

export interface WorkerCommandOptions extends PythonWorkerOptions, PythonWorkerCall {}

/**
 * Runs one short worker command (`python -m tunekit_worker <args>`, no shell) that answers with
 * one JSON object on its last stdout line, or an `error` event ({"type": "error", code, message,
 * field}) and a non-zero exit. Exit 2 (bad input) becomes a usage error, anything else a worker
 * error carrying the end of stderr.
 */
export function runWorkerJson<T>(args: readonly string[], options: WorkerCommandOptions): Promise<T> {
  const { python, workerRoot: root } = resolveWorker(options);
  const base = options.environment ?? process.env;
  const environment: NodeJS.ProcessEnv = { ...base };
  for (const [name, value] of Object.entries(options.environmentDefaults ?? {})) if (!environment[name]) environment[name] = value;
  Object.assign(environment, { PYTHONPATH: root, TOKENIZERS_PARALLELISM: "false" });
  return new Promise((resolve, reject) => {
    const child = spawn(python, ["-m", "tunekit_worker", ...args], { shell: false, env: environment, stdio: ["ignore", "pipe", "pipe"], signal: options.signal });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.on("error", (error) => {
      if ((error as { name?: string }).name === "AbortError") reject(new TunekitError(`${options.label} was cancelled`, { kind: "worker", code: `${options.label}_cancelled` }));
      else
        reject(new TunekitError(`cannot start the worker's Python ${python}: ${error.message}`, { kind: "environment", code: "worker_env_missing", fix: "run `tunekit setup`" }));
    });
    child.on("close", (code) => {
      const last = stdout.trim().split("\n").at(-1) ?? "";
      let answer: { type?: string; code?: string; message?: string; field?: string | null; error?: { code: string; message: string; field: string | null } } & Record<
        string,
        unknown
      >;
      try {
        answer = JSON.parse(last) as typeof answer;
      } catch {
        reject(
          new TunekitError(`${options.label} failed (exit ${code}) without an answer: ${stderr.trim().split("\n").slice(-5).join(" | ")}`, {
            kind: "worker",
            code: `${options.label}_failed`,
          }),
        );
        return;
      }
      const problem =
        answer.error ??
        (answer.type === "error" ? { code: answer.code ?? `${options.label}_failed`, message: answer.message ?? `exit ${code}`, field: answer.field ?? null } : null);
      if (problem || code !== 0) {
        const reported = problem ?? { code: `${options.label}_failed`, message: `exit ${code}`, field: null };
        reject(new TunekitError(reported.message, { kind: code === 2 ? "usage" : "worker", code: reported.code, field: reported.field ?? undefined }));
        return;
      }
      resolve(answer as T);
    });
  });
}

// --- the /proc scan: workers of a run folder that outlived their supervisor

/**
 * Live worker processes of a run dir: those whose command line names `<run_dir>/job.json` after
 * `tunekit_worker train` (the worker itself, or torchrun and its ranks: workerCommand). Linux
 * (/proc); elsewhere none are found and recovery relies on the worker stopping with its supervisor.
 */
export function workerProcesses(runDir: string, specFile: string = RUN_FILES.job): number[] {
  const spec = join(runDir, specFile);
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    const train = argv.indexOf("train");
    if (train > 0 && argv.includes("tunekit_worker") && argv.slice(train + 1).includes(spec)) found.push(Number(entry));
  }
  return found;
}

// --- the bridge as one object

export interface TrainObservers {
  onEvent?: (event: WorkerEvent) => void;
  onProtocolError?: (error: ProtocolError) => void;
  onStderr?: (line: string) => void;
  cancelTimeoutMs?: number;
}

/** The worker of one interpreter and package folder (default: the `tunekit setup` venv). */
export class PythonWorkerBridge implements PythonWorker {
  constructor(readonly options: PythonWorkerOptions = {}) {}

  /** The interpreter and package folder (a TunekitError naming `tunekit setup` when the venv is missing). */
  resolve(): ResolvedWorker {
    return resolveWorker(this.options);
  }

  runJson<T>(args: readonly string[], call: PythonWorkerCall): Promise<T> {
    return runWorkerJson<T>(args, { ...this.options, ...call });
  }

  spawn(args: readonly string[]): ChildProcessWithoutNullStreams {
    const { python, workerRoot } = this.resolve();
    return spawn(python, ["-m", "tunekit_worker", ...args], {
      shell: false,
      env: { ...(this.options.environment ?? process.env), PYTHONPATH: workerRoot, TOKENIZERS_PARALLELISM: "false" },
    });
  }

  /** `plan SPEC_FILE`: the run a job spec would make, without training (the server's estimates). */
  plan(specFile: string, signal?: AbortSignal): Promise<WorkerPlan> {
    return this.runJson<WorkerPlan>(["plan", specFile], { label: "plan", signal });
  }

  /** `train SPEC_FILE` in its run folder (through torchrun for several processes); the spec file is written already. */
  train(
    run: { runDir: string; specFile: string; numProcesses: number },
    observers: TrainObservers = {},
    resolved: ResolvedWorker = this.resolve(),
    extraEnvironment: NodeJS.ProcessEnv = {},
  ): WorkerProcess {
    const { python, workerRoot } = resolved;
    return startWorker({
      command: workerCommand(python, run.specFile, run.numProcesses),
      runDir: run.runDir,
      pythonPath: workerRoot,
      environment: { ...(this.options.environment ?? process.env), ...extraEnvironment },
      ...observers,
    });
  }
}
