/**
 * InferenceEngine v1: what the chat completions route needs from an engine (node-llama-cpp in
 * process, the Python worker, vLLM). Engines take rendered-free chat messages and apply the model's
 * own chat template and end-of-turn tokens themselves.
 */

export interface InferenceMessage {
  role: "system" | "user" | "assistant" | "developer" | "tool";
  content: string;
}

/** One model an engine can answer as: a base model, optionally with one LoRA adapter. */
export interface ServedModel {
  /** the id clients pass as `model` (a base id or `ft:<base>:<suffix>:<tail>`) */
  id: string;
  /** the base model: a .gguf file (llama-cpp), an HF folder or hub id (python, vllm) */
  base: string;
  /** the adapter in the engine's format: a GGUF LoRA (llama-cpp) or a PEFT folder (python, vllm) */
  adapter: string | null;
}

export type ResponseFormat = { type: "text" } | { type: "json_object" } | { type: "json_schema"; name: string; schema: Record<string, unknown> };

export interface GenerationRequest {
  messages: InferenceMessage[];
  /** null = until end of turn or the context is full */
  maxTokens: number | null;
  /** 0 = greedy */
  temperature: number;
  topP: number;
  seed: number | null;
  stop: string[];
  responseFormat: ResponseFormat;
  /** aborted when the client goes away: the engine stops generating and frees its slot */
  signal: AbortSignal;
}

export type FinishReason = "stop" | "length";

export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
}

export interface InferenceEngine {
  readonly name: "llama-cpp" | "python" | "vllm";
  /** how many requests for one model the engine runs at once (the rest wait in the queue) */
  readonly parallelism: number;
  /** generate; `onText` receives each decoded piece as it is produced (streaming) */
  generate(model: ServedModel, request: GenerationRequest, onText: (text: string) => void): Promise<GenerationResult>;
  /** the exact prompt text the model's chat template makes of `messages`, and its token count (engines that render templates themselves) */
  renderPrompt?(model: ServedModel, messages: InferenceMessage[]): Promise<{ prompt: string; promptTokens: number }>;
  close(): Promise<void>;
}
