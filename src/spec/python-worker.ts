import type { ChildProcessWithoutNullStreams } from "node:child_process";

/**
 * What the rooms that do not train need from Tunekit's Python worker (`python -m tunekit_worker
 * <command>`, no shell): serve's export and serving engine. Version 1. The one bridge to the worker
 * (src/providers/local/python-worker.ts) implements it and finds the interpreter; the composition
 * roots (server/tunekit-server.ts, the cli commands) pass it in.
 */
export interface PythonWorkerCall {
  /** what the command is, for messages and error codes (`export` -> `export_failed`) */
  label: string;
  signal?: AbortSignal;
  /** variables the worker gets unless its environment already sets them */
  environmentDefaults?: Readonly<Record<string, string>>;
}

export interface PythonWorker {
  /**
   * A short command that answers with one JSON object on its last stdout line (`export`,
   * `convert-gguf`, `plan`). Rejects with a TunekitError: the worker's own `error` (exit 2 is a
   * usage error), or the end of its stderr.
   */
  runJson<T>(args: readonly string[], call: PythonWorkerCall): Promise<T>;
  /**
   * A long-lived command speaking JSON Lines on stdin/stdout (`serve`). Throws a TunekitError
   * naming `tunekit setup` when the worker's environment is missing.
   */
  spawn(args: readonly string[]): ChildProcessWithoutNullStreams;
}
