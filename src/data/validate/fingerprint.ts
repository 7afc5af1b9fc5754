import type { DatasetFormat } from "../../spec/dataset.js";

/**
 * Fingerprints of one example, small enough to keep for millions of examples: a 64-bit hash of
 * its content (exact duplicates) and of its normalised user-side prompt (train/validation
 * overlap). Hashes are non-cryptographic (two independent 32-bit lanes).
 */
export interface Hash64 {
  high: number;
  low: number;
}

/** final mixer of MurmurHash3: spreads every input bit over the 32-bit output */
export function mix32(value: number): number {
  let hash = value | 0;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

export function hash64(text: string): Hash64 {
  let first = 0x811c9dc5;
  let second = 0x9747b28c ^ text.length;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    first = Math.imul(first ^ code, 0x01000193);
    second = Math.imul(second ^ code, 0x5bd1e995);
    second ^= second >>> 15;
  }
  return { high: mix32(first ^ Math.imul(second, 0x27d4eb2d)), low: mix32(second ^ first) };
}

/** Text of a message's `content`: the string itself, or the `text` of its parts. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    let text = "";
    for (const part of content) {
      if (part !== null && typeof part === "object" && typeof (part as { text?: unknown }).text === "string") {
        text += (text ? "\n" : "") + (part as { text: string }).text;
      }
    }
    return text;
  }
  return "";
}

function messagesText(messages: unknown): string {
  if (!Array.isArray(messages)) return "";
  let text = "";
  for (const message of messages) {
    if (message === null || typeof message !== "object") continue;
    const record = message as Record<string, unknown>;
    text += `${String(record.role)}\u0001${contentText(record.content)}`;
    if (record.tool_calls !== undefined) text += `\u0001${JSON.stringify(record.tool_calls)}`;
    if (record.function_call !== undefined) text += `\u0001${JSON.stringify(record.function_call)}`;
    text += "\u0002";
  }
  return text;
}

/** Everything an example says, in a fixed order (key order and JSON spacing do not matter). */
export function exampleText(example: Record<string, unknown>, format: DatasetFormat): string {
  switch (format) {
    case "chat":
      return messagesText(example.messages);
    case "prompt-completion":
      return `${String(example.prompt)}\u0001${String(example.completion)}`;
    case "preference": {
      const input = example.input as Record<string, unknown> | undefined;
      return `${messagesText(input?.messages)}\u0003${messagesText(example.preferred_output)}\u0003${messagesText(example.non_preferred_output)}`;
    }
    case "text":
      return String(example.text);
  }
}

/** The user side of an example: what a model is asked (user messages, or the prompt). */
export function promptText(example: Record<string, unknown>, format: DatasetFormat): string {
  const userMessages = (messages: unknown): string =>
    Array.isArray(messages)
      ? messages
          .filter((message) => message !== null && typeof message === "object" && (message as { role?: unknown }).role === "user")
          .map((message) => contentText((message as { content?: unknown }).content))
          .join("\n")
      : "";
  switch (format) {
    case "chat":
      return userMessages(example.messages);
    case "prompt-completion":
      return typeof example.prompt === "string" ? example.prompt : "";
    case "preference":
      return userMessages((example.input as Record<string, unknown> | undefined)?.messages);
    case "text":
      return typeof example.text === "string" ? example.text : "";
  }
}

/** Lower case, whitespace runs collapsed to one space, trimmed. */
export function normalizeText(text: string): string {
  return text.toLowerCase().replace(/\s+/g, " ").trim();
}
