import { TunekitError } from "../../core/errors.js";
import type { ChatExample, DatasetFormat, PreferenceExample } from "../../spec/dataset.js";
import type { DatasetTokenCounter } from "../tokens/load-token-counter.js";
import type { CountableExample } from "../tokens/trained-token-spans.js";
import { readDatasetExamples } from "./read-dataset-examples.js";

export interface SkippedLine {
  line: number;
  reason: string;
}

/** Per-example counts of one dataset file, one token list per counter (numbers only: fine for millions of examples). */
export interface DatasetTokenCounts {
  examples: number;
  formats: Partial<Record<DatasetFormat, number>>;
  skippedCount: number;
  /** the first skipped lines, with reasons */
  skipped: SkippedLine[];
  messagesPerExample: number[];
  /** [counter][example] */
  totalTokens: number[][];
  trainedTokens: number[][];
}

const SKIPPED_KEPT = 20;

/** Preference pairs count as the conversation with the preferred answer (what SFT on them would read). */
function countable(format: DatasetFormat, example: Record<string, unknown>): CountableExample {
  if (format !== "preference") return example as unknown as CountableExample;
  const pair = example as unknown as PreferenceExample;
  const chat: ChatExample = { messages: [...pair.input.messages, ...pair.preferred_output] };
  if (pair.input.tools) chat.tools = pair.input.tools;
  return chat;
}

function messageCount(example: CountableExample): number {
  if ("messages" in example) return example.messages.length;
  if ("prompt" in example) return 2;
  return 1;
}

/**
 * Read a JSONL dataset once and count every example with each counter. Bad lines are skipped and
 * counted; a line the tokenizer or template rejects is skipped too, but a problem with the model
 * itself (no chat template, bad template) stops the run, since every line would fail.
 */
export async function collectTokenCounts(
  file: string,
  counters: readonly DatasetTokenCounter[],
  format: DatasetFormat | "auto" = "auto",
): Promise<DatasetTokenCounts> {
  const counts: DatasetTokenCounts = {
    examples: 0,
    formats: {},
    skippedCount: 0,
    skipped: [],
    messagesPerExample: [],
    totalTokens: counters.map(() => []),
    trainedTokens: counters.map(() => []),
  };
  const skip = (line: number, reason: string) => {
    counts.skippedCount++;
    if (counts.skipped.length < SKIPPED_KEPT) counts.skipped.push({ line, reason });
  };
  for await (const entry of readDatasetExamples(file, format)) {
    if (!entry.ok) {
      skip(entry.line, entry.reason);
      continue;
    }
    const example = countable(entry.format, entry.example);
    let results;
    try {
      results = counters.map((counter) => counter.count(example, entry.line));
    } catch (error) {
      if (error instanceof TunekitError && (error.kind === "config" || error.kind === "usage")) throw error;
      skip(entry.line, error instanceof Error ? error.message.replace(/^line \d+: /, "") : String(error));
      continue;
    }
    counts.examples++;
    counts.formats[entry.format] = (counts.formats[entry.format] ?? 0) + 1;
    counts.messagesPerExample.push(messageCount(example));
    results.forEach((result, index) => {
      counts.totalTokens[index]!.push(result.total);
      counts.trainedTokens[index]!.push(result.trained);
    });
  }
  return counts;
}
