import { spawn } from "node:child_process";
import { TunekitError } from "../../core/errors.js";
import { ensureWorkerEnvironment } from "./worker-environment.js";

export interface WorkerCommandOptions {
  python?: string;
  workerRoot?: string;
  environment?: NodeJS.ProcessEnv;
  /** what the command is, for messages ("export", "plan") */
  label: string;
  signal?: AbortSignal;
}

/**
 * Runs one short worker command (`python -m tunekit_worker <args>`, no shell) that answers with
 * one JSON object on its last stdout line, or an `error` event ({"type": "error", code, message,
 * field}) and a non-zero exit. Exit 2 (bad input) becomes a usage error, anything else a worker
 * error carrying the end of stderr.
 */
export function runWorkerJson<T>(args: readonly string[], options: WorkerCommandOptions): Promise<T> {
  let python = options.python;
  let root = options.workerRoot;
  if (!python || !root) {
    const environment = ensureWorkerEnvironment(options.environment);
    python ??= environment.python;
    root ??= environment.workerRoot;
  }
  const environment: NodeJS.ProcessEnv = { ...(options.environment ?? process.env), PYTHONPATH: root, TOKENIZERS_PARALLELISM: "false" };
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
