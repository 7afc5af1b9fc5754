import { TunekitError } from "../core/errors.js";
import type { ChatMessage, DatasetFormat } from "../spec/dataset.js";
import { readDatasetExamples } from "../data/stats/read-dataset-examples.js";

/** One held-out example: the prompt messages, the reference answer and the text retrieval keys on. */
export interface EvalExample {
  /** 1-based line (or record position) in its file */
  line: number;
  /** the conversation up to the last assistant turn: what every strategy starts from */
  prompt: ChatMessage[];
  /** the last assistant turn: the answer the metrics compare against */
  reference: string;
  /** the system prompt, when the conversation has one */
  system: string | null;
  /** the last user turn: the query for few-shot and RAG retrieval */
  input: string;
}

export function messageText(message: ChatMessage): string {
  if (typeof message.content === "string") return message.content;
  if (Array.isArray(message.content)) return message.content.map((part) => part.text ?? "").join("");
  return "";
}

/**
 * Split a chat or prompt-completion example into prompt and reference; null when it has no
 * assistant answer to compare with (preference and text examples have none either).
 */
export function toEvalExample(format: DatasetFormat, example: Record<string, unknown>, line: number): EvalExample | null {
  let messages: ChatMessage[];
  if (format === "chat") messages = example.messages as ChatMessage[];
  else if (format === "prompt-completion")
    messages = [
      { role: "user", content: String(example.prompt) },
      { role: "assistant", content: String(example.completion) },
    ];
  else return null;
  let last = messages.length - 1;
  while (last >= 0 && messages[last]!.role !== "assistant") last--;
  if (last <= 0) return null;
  const prompt = messages.slice(0, last).map((message) => ({ role: message.role, content: messageText(message) }));
  const system = prompt.find((message) => message.role === "system" || message.role === "developer");
  const lastUser = [...prompt].reverse().find((message) => message.role === "user");
  if (!lastUser) return null;
  return {
    line,
    prompt,
    reference: messageText(messages[last]!),
    system: system ? messageText(system) : null,
    input: messageText(lastUser),
  };
}

/** Read every usable example of a dataset file (chat or prompt-completion), at most `limit`. */
export async function readEvalExamples(file: string, options: { format?: DatasetFormat | "auto"; limit?: number | null; field?: string } = {}): Promise<EvalExample[]> {
  const examples: EvalExample[] = [];
  let skipped = 0;
  for await (const record of readDatasetExamples(file, options.format ?? "auto")) {
    if (options.limit != null && examples.length >= options.limit) break;
    const example = record.ok ? toEvalExample(record.format, record.example, record.line) : null;
    if (example) examples.push(example);
    else skipped++;
  }
  if (examples.length === 0) {
    throw new TunekitError(`\`${file}\` holds no example with an assistant answer to evaluate against (${skipped} skipped)`, {
      kind: "data",
      code: "no_eval_examples",
      field: options.field,
      file,
      fix: "Point it at a chat (messages ending in an assistant turn) or prompt-completion file; check it with `tunekit data validate`.",
    });
  }
  return examples;
}
