import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { TunekitError } from "../core/errors.js";
import type { GenerationRequest, GenerationResult, InferenceEngine, ServedModel } from "../spec/inference-engine.js";
import type { PythonWorker } from "../spec/python-worker.js";

export interface PythonWorkerEngineOptions {
  /** the Python worker (src/spec/python-worker.ts), wired by the composition root */
  worker: PythonWorker;
  /** the worker answers one request at a time; more wait in the route's queue */
  parallelism?: number;
}

/** JSON Lines from `python -m tunekit_worker serve` (see worker/tunekit_worker/serve.py). */
type WorkerMessage =
  | { id: string; type: "text"; text: string }
  | { id: string; type: "done"; text: string; finish_reason: "stop" | "length"; prompt_tokens: number; completion_tokens: number }
  | { id: string; type: "error"; code: string; message: string; field?: string | null };

interface Pending {
  onText: (text: string) => void;
  resolve: (result: GenerationResult) => void;
  reject: (error: unknown) => void;
}

/**
 * transformers + peft in a long-lived Python process, for HF-format models that have no GGUF: requests
 * with ids go to its stdin as JSON Lines, decoded text comes back piece by piece, `cancel` stops one.
 */
export class PythonWorkerEngine implements InferenceEngine {
  readonly name = "python" as const;
  readonly parallelism: number;
  private child: ChildProcessWithoutNullStreams | null = null;
  private readonly pending = new Map<string, Pending>();
  private nextId = 0;
  private stderrTail = "";

  constructor(private readonly options: PythonWorkerEngineOptions) {
    this.parallelism = options.parallelism ?? 1;
  }

  generate(served: ServedModel, request: GenerationRequest, onText: (text: string) => void): Promise<GenerationResult> {
    const child = this.worker();
    const id = `r${++this.nextId}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { onText, resolve, reject });
      const cancel = () => child.stdin.write(`${JSON.stringify({ type: "cancel", id })}\n`);
      request.signal.addEventListener("abort", cancel, { once: true });
      const settle = () => request.signal.removeEventListener("abort", cancel);
      const entry = this.pending.get(id)!;
      entry.resolve = (result) => (settle(), resolve(result));
      entry.reject = (error) => (settle(), reject(error));
      child.stdin.write(
        `${JSON.stringify({
          type: "generate",
          id,
          model: served.base,
          adapter: served.adapter,
          messages: request.messages,
          max_tokens: request.maxTokens,
          temperature: request.temperature,
          top_p: request.topP,
          seed: request.seed,
          stop: request.stop,
          // constrained decoding in the worker (worker/tunekit_worker/json_constraint.py)
          response_format: request.responseFormat,
        })}\n`,
      );
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child) return;
    child.stdin.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.once("close", () => (clearTimeout(timer), resolve()));
    });
  }

  private worker(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = this.options.worker.spawn(["serve"]);
    this.child = child;
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (this.stderrTail = (this.stderrTail + chunk).slice(-4000)));
    createInterface({ input: child.stdout }).on("line", (line) => this.onLine(line));
    child.on("close", (code) => {
      if (this.child === child) this.child = null;
      const error = new TunekitError(`the Python serving worker exited (code ${code}): ${this.stderrTail.trim().split("\n").slice(-3).join(" | ")}`, {
        kind: "worker",
        code: "worker_exited",
      });
      for (const entry of this.pending.values()) entry.reject(error);
      this.pending.clear();
    });
    return child;
  }

  private onLine(line: string): void {
    let message: WorkerMessage;
    try {
      message = JSON.parse(line) as WorkerMessage;
    } catch {
      return;
    }
    const entry = this.pending.get(message.id);
    if (!entry) return;
    if (message.type === "text") entry.onText(message.text);
    else if (message.type === "done") {
      this.pending.delete(message.id);
      entry.resolve({ text: message.text, finishReason: message.finish_reason, promptTokens: message.prompt_tokens, completionTokens: message.completion_tokens });
    } else {
      this.pending.delete(message.id);
      const usage = message.code === "bad_request" || message.code === "unsupported_response_format";
      entry.reject(new TunekitError(message.message, { kind: usage ? "usage" : "worker", code: message.code, field: message.field ?? undefined }));
    }
  }
}
