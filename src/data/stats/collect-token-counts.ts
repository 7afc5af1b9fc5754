import { TunekitError } from "../../core/errors.js";
import type { ChatExample, ChatMessage, DatasetFormat, PreferenceExample } from "../../spec/dataset.js";
import type { DatasetTokenCounter } from "../tokens/load-token-counter.js";
import type { CountableExample } from "../tokens/trained-token-spans.js";
import type { DatasetRecordsOptions } from "../decode/dataset-records.js";
import { readDatasetExamples } from "./read-dataset-examples.js";

export interface SkippedLine {
  line: number;
  reason: string;
  /** the problem's code and fix, when the tokenizer or template gave one */
  code?: string;
  fix?: string;
}

/** Per-example counts of one dataset file, one token list per counter (numbers only: fine for millions of examples). */
export interface DatasetTokenCounts {
  examples: number;
  formats: Partial<Record<DatasetFormat, number>>;
  skippedCount: number;
  /** the first skipped lines, with reasons */
  skipped: SkippedLine[];
  messagesPerExample: number[];
  /** [counter][example]: the example as one sequence (for a preference pair: the prompt with the preferred answer) */
  totalTokens: number[][];
  trainedTokens: number[][];
  /** preference pairs, [counter][example]: the prompt with the non-preferred answer (0 for other formats) */
  rejectedTotalTokens: number[][];
  rejectedTrainedTokens: number[][];
  /** preference pairs counted (each is two sequences: DPO reads the prompt with each answer) */
  preferencePairs: number;
}

/** Progress of a count: records read so far (called for every record; throttle in the caller). */
export type CountProgress = (recordsRead: number) => void;

const SKIPPED_KEPT = 20;

/**
 * A preference pair's answer as the worker tokenizes it: input.messages + the answer, with the
 * input's own assistant turns not trained (only the answer is).
 */
function preferenceSequence(pair: PreferenceExample, answer: ChatMessage[]): ChatExample {
  const prompt = pair.input.messages.map((message) => (message.role === "assistant" ? { ...message, weight: 0 as const } : message));
  const chat: ChatExample = { messages: [...prompt, ...answer] };
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
  onProgress?: CountProgress,
  /** --map, --encoding, --json-key, --split: how every data command reads the file */
  reader: DatasetRecordsOptions = {},
): Promise<DatasetTokenCounts> {
  const counts: DatasetTokenCounts = {
    examples: 0,
    formats: {},
    skippedCount: 0,
    skipped: [],
    messagesPerExample: [],
    totalTokens: counters.map(() => []),
    trainedTokens: counters.map(() => []),
    rejectedTotalTokens: counters.map(() => []),
    rejectedTrainedTokens: counters.map(() => []),
    preferencePairs: 0,
  };
  let recordsRead = 0;
  const skip = (line: number, reason: string, problem?: { code?: string; fix?: string }) => {
    counts.skippedCount++;
    if (counts.skipped.length < SKIPPED_KEPT) counts.skipped.push({ line, reason, ...(problem?.code && { code: problem.code }), ...(problem?.fix && { fix: problem.fix }) });
  };
  for await (const entry of readDatasetExamples(file, format, reader)) {
    onProgress?.(++recordsRead);
    if (!entry.ok) {
      skip(entry.line, entry.reason);
      continue;
    }
    let example: CountableExample;
    let rejected: CountableExample | null = null;
    if (entry.format === "preference") {
      const pair = entry.example as unknown as PreferenceExample;
      if (!Array.isArray(pair.non_preferred_output) || pair.non_preferred_output.length === 0) {
        skip(entry.line, "`non_preferred_output` is not a list of messages (DPO needs both answers)");
        continue;
      }
      example = preferenceSequence(pair, pair.preferred_output);
      rejected = preferenceSequence(pair, pair.non_preferred_output);
    } else {
      example = entry.example as unknown as CountableExample;
    }
    let results;
    let rejectedResults;
    try {
      results = counters.map((counter) => counter.count(example, entry.line));
      rejectedResults = rejected === null ? null : counters.map((counter) => counter.count(rejected, entry.line));
    } catch (error) {
      if (error instanceof TunekitError && (error.kind === "config" || error.kind === "usage")) throw error;
      skip(entry.line, error instanceof Error ? error.message.replace(/^line \d+: /, "") : String(error), error instanceof TunekitError ? error : undefined);
      continue;
    }
    counts.examples++;
    if (rejected !== null) counts.preferencePairs++;
    counts.formats[entry.format] = (counts.formats[entry.format] ?? 0) + 1;
    counts.messagesPerExample.push(messageCount(example));
    results.forEach((result, index) => {
      counts.totalTokens[index]!.push(result.total);
      counts.trainedTokens[index]!.push(result.trained);
      counts.rejectedTotalTokens[index]!.push(rejectedResults?.[index]!.total ?? 0);
      counts.rejectedTrainedTokens[index]!.push(rejectedResults?.[index]!.trained ?? 0);
    });
  }
  return counts;
}
