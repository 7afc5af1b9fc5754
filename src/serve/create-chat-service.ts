import type { BaseModelLookup } from "../spec/base-model-lookup.js";
import type { FineTunedModelLookup } from "../spec/fine-tuned-model-lookup.js";
import type { InferenceEngine, ServedModel } from "../spec/inference-engine.js";
import type { PythonWorker } from "../spec/python-worker.js";
import { ChatService } from "./chat-service.js";
import { LlamaCppEngine } from "./llama-cpp-engine.js";
import { ModelRegistry, type EngineKind } from "./model-registry.js";
import { PythonWorkerEngine } from "./python-worker-engine.js";
import { VllmEngine } from "./vllm-engine.js";
import { WorkerExporter } from "./worker-exporter.js";

export interface ServeOptions {
  /** default llama-cpp (in process, GGUF + LoRA) */
  engine?: EngineKind;
  /** requests per model that run at once */
  parallelism?: number;
  /** requests per model that may wait before 429 */
  maxQueue?: number;
  /** tokens per sequence (llama-cpp) */
  contextSize?: number;
  /** contexts (base or base + adapter) kept loaded (llama-cpp) */
  maxContexts?: number;
  /** CPU threads per llama-cpp context */
  threads?: number;
  /** vLLM: an OpenAI-compatible vLLM URL to use instead of starting `vllm serve` */
  vllmUrl?: string;
  /** models served under fixed ids (`tunekit serve`) */
  fixed?: ServedModel[];
}

export interface ChatServiceWiring extends ServeOptions {
  /** the Python worker (the python engine, conversions and exports), wired by the composition root */
  worker: PythonWorker;
  catalog?: BaseModelLookup | null;
  fineTuned?: FineTunedModelLookup | null;
  cacheDir: string;
  exporter?: WorkerExporter;
}

export function createEngine(options: ServeOptions & { worker: PythonWorker }): InferenceEngine {
  const kind = options.engine ?? "llama-cpp";
  if (kind === "python") return new PythonWorkerEngine({ parallelism: options.parallelism, worker: options.worker });
  if (kind === "vllm") return new VllmEngine({ url: options.vllmUrl, parallelism: options.parallelism });
  return new LlamaCppEngine({ parallelism: options.parallelism, contextSize: options.contextSize, maxContexts: options.maxContexts, threads: options.threads });
}

/** The chat service the server mounts: engine + registry + per-model queues. */
export function createChatService(options: ChatServiceWiring): ChatService {
  const engine = createEngine(options);
  const registry = new ModelRegistry({
    engine: engine.name,
    catalog: options.catalog,
    fineTuned: options.fineTuned,
    fixed: options.fixed,
    cacheDir: options.cacheDir,
    exporter: options.exporter ?? new WorkerExporter(options.worker),
  });
  return new ChatService({ registry, engine, maxQueue: options.maxQueue });
}
