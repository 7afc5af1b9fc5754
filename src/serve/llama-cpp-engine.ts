import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaGrammar, LlamaModel, Token } from "node-llama-cpp";
import { TunekitError } from "../core/errors.js";
import type { GenerationRequest, GenerationResult, InferenceEngine, InferenceMessage, ResponseFormat, ServedModel } from "../spec/inference-engine.js";
import { ChatTemplate, CHATML_TEMPLATE } from "./chat-template.js";

export interface LlamaCppEngineOptions {
  /** sequences per context = requests for one model that run at once (batched together) */
  parallelism?: number;
  /** contexts (one per base model or base + adapter) kept warm; the least recently used idle one goes */
  maxContexts?: number;
  /** tokens each sequence can hold (prompt + completion) */
  contextSize?: number;
  /** CPU threads per context (default: cores - 1, at most 4; llama.cpp's threads spin, so more
   * threads than free cores make every token slower, by 100x on a busy machine) */
  threads?: number;
}

interface LoadedBase {
  model: LlamaModel;
  template: ChatTemplate;
}

interface ContextEntry {
  key: string;
  context: Promise<LlamaContext>;
  users: number;
  lastUsed: number;
  /** sequences that finished a request, history cleared, ready for the next one */
  free: LlamaContextSequence[];
}

/**
 * node-llama-cpp in process: each base GGUF is loaded once; every (base, adapter) pair gets its own
 * context with `parallelism` sequences and the LoRA applied to that context, so many fine-tuned
 * adapters share one copy of the base weights. Contexts live in a bounded LRU cache. Prompts use the
 * model's own chat template from the GGUF; generation stops at the model's end-of-generation tokens
 * (llama.cpp's EOG set: eos, <|im_end|>, <|eot_id|> ...) and at the request's stop strings.
 */
export class LlamaCppEngine implements InferenceEngine {
  readonly name = "llama-cpp" as const;
  readonly parallelism: number;
  private readonly maxContexts: number;
  private readonly contextSize: number;
  private llama: Promise<Llama> | null = null;
  private readonly bases = new Map<string, Promise<LoadedBase>>();
  private readonly contexts = new Map<string, ContextEntry>();
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();
  private closed = false;

  constructor(private readonly options: LlamaCppEngineOptions = {}) {
    this.parallelism = options.parallelism ?? 4;
    this.maxContexts = options.maxContexts ?? 8;
    this.contextSize = options.contextSize ?? 2048;
  }

  /** Contexts currently cached, by key (`base` or `base|adapter`). */
  get cachedContexts(): string[] {
    return [...this.contexts.keys()];
  }

  async generate(served: ServedModel, request: GenerationRequest, onText: (text: string) => void): Promise<GenerationResult> {
    const { LlamaCompletion } = await import("node-llama-cpp");
    const base = await this.base(served.base);
    const entry = this.contextEntry(served);
    try {
      const context = await entry.context;
      const sequence = entry.free.pop() ?? (context.sequencesLeft > 0 ? context.getSequence() : null);
      if (!sequence)
        throw new TunekitError(`no free sequence for \`${served.id}\`: more requests than \`--parallelism\` reached the engine`, { kind: "internal", code: "no_free_sequence" });
      try {
        const prompt = base.template.render(request.messages);
        const tokens = base.model.tokenize(prompt, true);
        if (tokens.length >= context.contextSize) {
          throw new TunekitError(`the prompt is ${tokens.length} tokens; the context holds ${context.contextSize}`, {
            kind: "usage",
            code: "context_length_exceeded",
            field: "messages",
            fix: "shorten the messages or start the server with a larger `--context-size`",
          });
        }
        const grammar = await this.grammar(request.responseFormat);
        const room = context.contextSize - tokens.length;
        const maxTokens = request.maxTokens === null ? room : Math.min(request.maxTokens, room);
        let completionTokens = 0;
        const completion = new LlamaCompletion({ contextSequence: sequence });
        const answer = await completion.generateCompletionWithMeta(tokens as Token[], {
          maxTokens,
          temperature: request.temperature,
          topP: request.temperature > 0 ? request.topP : undefined,
          seed: request.seed ?? undefined,
          grammar: grammar ?? undefined,
          customStopTriggers: request.stop.length > 0 ? request.stop : undefined,
          signal: request.signal,
          stopOnAbortSignal: true,
          disableContextShift: true,
          onToken: (generated) => {
            completionTokens += generated.length;
          },
          onTextChunk: onText,
        });
        completion.dispose();
        const stopReason = answer.metadata.stopReason;
        return {
          text: answer.response,
          finishReason: stopReason === "maxTokens" ? "length" : "stop",
          promptTokens: tokens.length,
          completionTokens,
        };
      } finally {
        // sequences are reused (disposing one frees its slot only later, asynchronously)
        await sequence.clearHistory().then(
          () => entry.free.push(sequence),
          () => sequence.dispose(),
        );
      }
    } finally {
      entry.users -= 1;
      entry.lastUsed = Date.now();
      void this.evict();
    }
  }

  async renderPrompt(served: ServedModel, messages: InferenceMessage[]): Promise<{ prompt: string; promptTokens: number }> {
    const base = await this.base(served.base);
    const prompt = base.template.render(messages);
    return { prompt, promptTokens: base.model.tokenize(prompt, true).length };
  }

  async close(): Promise<void> {
    this.closed = true;
    const contexts = [...this.contexts.values()];
    this.contexts.clear();
    await Promise.allSettled(contexts.map(async (entry) => (await entry.context).dispose()));
    const bases = [...this.bases.values()];
    this.bases.clear();
    await Promise.allSettled(bases.map(async (base) => (await base).model.dispose()));
    if (this.llama) await (await this.llama).dispose();
  }

  private getLlama(): Promise<Llama> {
    this.llama ??= import("node-llama-cpp").then(({ getLlama, LlamaLogLevel }) => getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false }));
    return this.llama;
  }

  private base(path: string): Promise<LoadedBase> {
    if (this.closed) throw new TunekitError("the inference engine is closed", { kind: "internal", code: "engine_closed" });
    let loaded = this.bases.get(path);
    if (!loaded) {
      loaded = (async () => {
        if (!path.endsWith(".gguf") || !existsSync(path)) {
          throw new TunekitError(`the llama-cpp engine needs a .gguf file, got \`${path}\``, {
            kind: "usage",
            code: "model_not_gguf",
            field: "model",
            fix: "export the model with `tunekit export ... --format gguf` or use `--engine python`",
          });
        }
        const llama = await this.getLlama();
        const model = await llama.loadModel({ modelPath: path });
        const metadata = model.fileInfo.metadata as { tokenizer?: { chat_template?: string } };
        const source = metadata.tokenizer?.chat_template ?? CHATML_TEMPLATE;
        const text = (token: Token | null) => (token === null ? "" : model.detokenize([token], true));
        return { model, template: new ChatTemplate(source, { bos: text(model.tokens.bos), eos: text(model.tokens.eos) }, path) };
      })();
      loaded.catch(() => this.bases.delete(path));
      this.bases.set(path, loaded);
    }
    return loaded;
  }

  private contextEntry(served: ServedModel): ContextEntry {
    const key = served.adapter ? `${served.base}|${served.adapter}` : served.base;
    let entry = this.contexts.get(key);
    if (!entry) {
      if (served.adapter && !existsSync(served.adapter)) {
        throw new TunekitError(`adapter \`${served.adapter}\` does not exist`, { kind: "not_found", code: "adapter_not_found", field: "model" });
      }
      const context = this.base(served.base).then(({ model }) =>
        model.createContext({
          sequences: this.parallelism,
          contextSize: this.contextSize,
          threads: this.options.threads ?? Math.max(1, Math.min(4, availableParallelism() - 1)),
          ...(served.adapter ? { lora: { adapters: [{ filePath: served.adapter }] } } : {}),
        }),
      );
      entry = { key, context, users: 0, lastUsed: Date.now(), free: [] };
      const created = entry;
      context.catch(() => {
        if (this.contexts.get(key) === created) this.contexts.delete(key);
      });
      this.contexts.set(key, entry);
    }
    entry.users += 1;
    entry.lastUsed = Date.now();
    return entry;
  }

  /** Dispose least recently used idle contexts beyond the cache bound. */
  private async evict(): Promise<void> {
    while (this.contexts.size > this.maxContexts) {
      const idle = [...this.contexts.values()].filter((entry) => entry.users === 0).sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!idle) return;
      this.contexts.delete(idle.key);
      await (await idle.context.catch(() => null))?.dispose();
    }
  }

  private async grammar(format: ResponseFormat): Promise<LlamaGrammar | null> {
    if (format.type === "text") return null;
    const key = format.type === "json_object" ? "json" : JSON.stringify(format.schema);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      grammar = (async () => {
        const llama = await this.getLlama();
        if (format.type === "json_object") return llama.getGrammarFor("json");
        try {
          return await llama.createGrammarForJsonSchema(format.schema as never);
        } catch (error) {
          throw new TunekitError(`\`response_format.json_schema.schema\` is not supported for constrained decoding: ${(error as Error).message}`, {
            kind: "usage",
            code: "invalid_json_schema",
            field: "response_format",
            fix: "use the JSON Schema subset node-llama-cpp supports (objects, arrays, strings, numbers, enums, const, oneOf)",
          });
        }
      })();
      grammar.catch(() => this.grammars.delete(key));
      this.grammars.set(key, grammar);
    }
    return grammar;
  }
}
