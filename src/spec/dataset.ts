/**
 * Wire types of the dataset formats Tunekit reads (OpenAI's shapes). Version 1.
 */
export type Role = "system" | "user" | "assistant" | "tool" | "developer";

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: Role;
  content: string | null | Array<{ type: string; text?: string }>;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  /** 0 = not trained, 1 = trained (assistant messages only; OpenAI's per-message weight) */
  weight?: 0 | 1;
}

/** chat format: {"messages": [...], "tools": [...]} */
export interface ChatExample {
  messages: ChatMessage[];
  tools?: unknown[];
  parallel_tool_calls?: boolean;
}

/** prompt-completion format */
export interface PromptCompletionExample {
  prompt: string;
  completion: string;
}

/** preference pairs, OpenAI DPO shape */
export interface PreferenceExample {
  input: { messages: ChatMessage[]; tools?: unknown[] };
  preferred_output: ChatMessage[];
  non_preferred_output: ChatMessage[];
}

/** plain text (continued pre-training) */
export interface TextExample {
  text: string;
}

export type DatasetFormat = "chat" | "prompt-completion" | "preference" | "text";

export const DATASET_FORMATS: readonly DatasetFormat[] = ["chat", "prompt-completion", "preference", "text"];

/** Detect the format of one parsed example; null when it matches none. */
export function detectFormat(example: unknown): DatasetFormat | null {
  if (example === null || typeof example !== "object" || Array.isArray(example)) return null;
  const record = example as Record<string, unknown>;
  if ("messages" in record) return "chat";
  if ("preferred_output" in record || "non_preferred_output" in record) return "preference";
  if ("prompt" in record && "completion" in record) return "prompt-completion";
  if ("text" in record) return "text";
  return null;
}
