import { randomBytes } from "node:crypto";
import { z } from "zod";
import { TunekitError } from "../core/errors.js";
import type { GenerationResult, InferenceEngine, ServedModel } from "../spec/inference-engine.js";
import { parseChatRequest, type ChatRequest } from "./chat-request.js";
import type { ModelRegistry } from "./model-registry.js";
import { RequestQueue } from "./request-queue.js";

export interface ChatServiceOptions {
  registry: ModelRegistry;
  engine: InferenceEngine;
  /** requests per model allowed to wait for a slot before 429 (default 32) */
  maxQueue?: number;
}

export const usageSchema = z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() });
export type Usage = z.infer<typeof usageSchema>;

/** OpenAI's `chat.completion` object, as Tunekit answers it (n = 1, no tool calls, no logprobs). */
export const chatCompletionSchema = z.object({
  id: z.string(),
  object: z.literal("chat.completion"),
  created: z.number().int(),
  model: z.string(),
  system_fingerprint: z.string(),
  choices: z.array(
    z.object({
      index: z.literal(0),
      message: z.object({ role: z.literal("assistant"), content: z.string(), refusal: z.null() }),
      logprobs: z.null(),
      finish_reason: z.enum(["stop", "length"]) satisfies z.ZodType<GenerationResult["finishReason"]>,
    }),
  ),
  usage: usageSchema,
});
export type ChatCompletion = z.infer<typeof chatCompletionSchema>;

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{ index: 0; delta: { role?: "assistant"; content?: string }; logprobs: null; finish_reason: GenerationResult["finishReason"] | null }>;
  usage?: Usage | null;
}

/** A request that holds a slot of its model's queue; `run` generates, `release` frees the slot. */
export interface AdmittedChat {
  request: ChatRequest;
  served: ServedModel;
  id: string;
  created: number;
  run(signal: AbortSignal, onText: (text: string) => void): Promise<GenerationResult>;
  release(): void;
}

/**
 * Chat completions over one engine: parse, resolve the model, wait for a slot in the model's bounded
 * queue (429 when full), generate, and shape OpenAI's completion and chunk objects.
 */
export class ChatService {
  private readonly queues = new Map<string, RequestQueue>();

  constructor(private readonly options: ChatServiceOptions) {}

  get engine(): InferenceEngine {
    return this.options.engine;
  }

  queueOf(modelId: string): RequestQueue {
    let queue = this.queues.get(modelId);
    if (!queue) {
      queue = new RequestQueue(modelId, { concurrency: this.options.engine.parallelism, maxWaiting: this.options.maxQueue ?? 32 });
      this.queues.set(modelId, queue);
    }
    return queue;
  }

  /** Parse and resolve, then wait for a slot (rejects with QueueFullError when the queue is full). */
  async admit(projectId: string | null, body: unknown, signal: AbortSignal): Promise<AdmittedChat> {
    const request = parseChatRequest(body);
    const served = await this.options.registry.resolve(projectId, request.model);
    const release = await this.queueOf(served.id).acquire(signal);
    const engine = this.options.engine;
    return {
      request,
      served,
      id: `chatcmpl-${randomBytes(12).toString("base64url")}`,
      created: Math.floor(Date.now() / 1000),
      run: (runSignal, onText) =>
        engine.generate(
          served,
          {
            messages: request.messages,
            maxTokens: request.maxTokens,
            temperature: request.temperature,
            topP: request.topP,
            seed: request.seed,
            stop: request.stop,
            responseFormat: request.responseFormat,
            signal: runSignal,
          },
          onText,
        ),
      release,
    };
  }

  completion(admitted: AdmittedChat, result: GenerationResult): ChatCompletion {
    return {
      id: admitted.id,
      object: "chat.completion",
      created: admitted.created,
      model: admitted.served.id,
      system_fingerprint: `tunekit-${this.options.engine.name}`,
      choices: [{ index: 0, message: { role: "assistant", content: result.text, refusal: null }, logprobs: null, finish_reason: result.finishReason }],
      usage: usageOf(result),
    };
  }

  chunk(admitted: AdmittedChat, delta: ChatCompletionChunk["choices"][0]["delta"], finishReason: ChatCompletionChunk["choices"][0]["finish_reason"] = null): ChatCompletionChunk {
    return {
      id: admitted.id,
      object: "chat.completion.chunk",
      created: admitted.created,
      model: admitted.served.id,
      system_fingerprint: `tunekit-${this.options.engine.name}`,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(admitted.request.includeUsage ? { usage: null } : {}),
    };
  }

  usageChunk(admitted: AdmittedChat, result: GenerationResult): ChatCompletionChunk {
    return {
      id: admitted.id,
      object: "chat.completion.chunk",
      created: admitted.created,
      model: admitted.served.id,
      system_fingerprint: `tunekit-${this.options.engine.name}`,
      choices: [],
      usage: usageOf(result),
    };
  }

  /** The prompt text `messages` become for `model` (the playground's "Show prompt"). */
  async prompt(projectId: string | null, body: unknown): Promise<{ model: string; prompt: string; prompt_tokens: number }> {
    const request = parseChatRequest(body);
    const served = await this.options.registry.resolve(projectId, request.model);
    const engine = this.options.engine;
    if (!engine.renderPrompt) {
      throw new TunekitError(`the ${engine.name} engine applies the chat template itself and does not show the prompt`, {
        kind: "usage",
        code: "prompt_not_available",
        field: "model",
        fix: "start the server with the llama-cpp engine (the default) to see prompts",
      });
    }
    const { prompt, promptTokens } = await engine.renderPrompt(served, request.messages);
    return { model: served.id, prompt, prompt_tokens: promptTokens };
  }

  close(): Promise<void> {
    return this.options.engine.close();
  }
}

function usageOf(result: GenerationResult): Usage {
  return { prompt_tokens: result.promptTokens, completion_tokens: result.completionTokens, total_tokens: result.promptTokens + result.completionTokens };
}
