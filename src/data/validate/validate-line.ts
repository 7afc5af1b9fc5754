import { detectFormat, type ChatExample, type ChatMessage, type DatasetFormat } from "../../spec/dataset.js";
import type { ExampleTokenCounter, ExampleTokens } from "../token-counter.js";
import type { CountableExample } from "../tokens/trained-token-spans.js";
import { exampleText, hash64, normalizeText, promptText, type Hash64 } from "./fingerprint.js";
import { findJsonSyntaxError } from "./json-error-position.js";
import { MINHASH_SIZE, minHashSignature } from "./near-duplicates.js";
import { severityOf, type ProblemCode } from "./problem-codes.js";
import { validateChatExample, type Report } from "./validate-chat.js";
import { validatePreferenceExample } from "./validate-preference.js";
import { validatePromptCompletionExample } from "./validate-prompt-completion.js";
import { validateTextExample } from "./validate-text.js";

/** What validating one line needs to know about the file. */
export interface LineContext {
  /** the file's format; null when no line of a known format was found */
  format: DatasetFormat | null;
  /** where the format came from, for messages: "--format chat", "detected from line 1" */
  formatSource: string;
  /** counts tokens and gives the context length (only with --model) */
  counter?: ExampleTokenCounter | null;
  /** compute duplicate fingerprints (default true) */
  fingerprints?: boolean;
  /** compute the prompt hash for train/validation overlap (default false) */
  prompts?: boolean;
  /** batches carry every problem, not the first MAX_STORED_PER_CODE of each code (a problem sink lists them all) */
  everyProblem?: boolean;
}

export interface LineProblem {
  code: ProblemCode;
  message: string;
  /** 1-based column where the line goes wrong (invalid JSON, invalid UTF-8) */
  column?: number;
}

export interface LineTokens {
  /** tokens of the example (both sequences of a preference pair) */
  total: number;
  /** trained tokens */
  trained: number;
  /** the longest sequence the model reads: what the context length limits */
  longest: number;
}

export interface LineResult {
  problems: LineProblem[];
  /** a blank line (not an example) */
  blank: boolean;
  /** at least one problem of severity error */
  hasErrors: boolean;
  /** content hash, for exact duplicates (error-free examples only) */
  exactHash: Hash64 | null;
  /** hash of the normalised user side, for train/validation overlap */
  promptHash: Hash64 | null;
  /** MinHash signature for near duplicates, null for examples with errors or without words */
  signature: Uint32Array | null;
  tokens: LineTokens | null;
}

const FORMAT_KEYS = '"messages" (chat), "prompt" and "completion" (prompt-completion), "input" with "preferred_output" and "non_preferred_output" (preference), or "text" (text)';

/**
 * Validates one line of a JSONL dataset on its own: a pure function of the line text, its 1-based
 * number and the file context. Checks that span lines (duplicates, overlap, example count) are made
 * by ValidationState from the fingerprints returned here.
 */
export function validateLine(rawText: string, line: number, context: LineContext, validUtf8 = true): LineResult {
  const problems: LineProblem[] = [];
  const report: Report = (code, message) => {
    problems.push({ code, message });
  };
  const result: LineResult = {
    problems,
    blank: false,
    hasErrors: false,
    exactHash: null,
    promptHash: null,
    signature: null,
    tokens: null,
  };
  let text = rawText;
  if (line === 1 && text.charCodeAt(0) === 0xfeff) {
    report("bom", "the file starts with a UTF-8 byte order mark; it was skipped, but other tools may choke on it: save the file as UTF-8 without BOM");
    text = text.slice(1);
  }
  if (!validUtf8) {
    const column = text.indexOf("\ufffd") + 1;
    problems.push({
      code: "invalid_utf8",
      message: `the line is not valid UTF-8${column > 0 ? ` (first bad byte near column ${column})` : ""}; if the file is Windows-1252 or Latin-1, pass \`--encoding windows-1252\` (or \`--encoding latin1\`), else re-save it as UTF-8`,
      ...(column > 0 ? { column } : {}),
    });
    return finish(result);
  }
  if (text.trim() === "") {
    result.blank = true;
    report("blank_line", "blank line; it is skipped, remove it (JSONL is one example per line)");
    return finish(result);
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const syntax = findJsonSyntaxError(text);
    const where = syntax ? `at column ${syntax.offset + 1}: ${syntax.reason}` : `: ${(error as Error).message}`;
    const bomHint = text.charCodeAt(syntax?.offset ?? -1) === 0xfeff ? " (a byte order mark in the middle of the file: remove it)" : "";
    problems.push({
      code: "invalid_json",
      message: `the line is not valid JSON ${where}${bomHint}; write one complete JSON object per line (no trailing commas, double quotes)`,
      ...(syntax ? { column: syntax.offset + 1 } : {}),
    });
    return finish(result);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    report("data_type", `the line is ${kind}, not a JSON object; each line must be one object with ${FORMAT_KEYS}`);
    return finish(result);
  }
  const example = value as Record<string, unknown>;
  const format = context.format;
  if (format === null) {
    report("unknown_format", `the example has none of the keys of a known format; use ${FORMAT_KEYS}`);
    return finish(result);
  }
  const detected = detectFormat(example);
  if (detected !== null && detected !== format) {
    report(
      "format_mismatch",
      `the example is in ${detected} format but the file is ${format} (${context.formatSource}); convert it with \`tunekit data convert\` or keep one format per file`,
    );
    return finish(result);
  }
  switch (format) {
    case "chat":
      validateChatExample(example, report);
      break;
    case "preference":
      validatePreferenceExample(example, report);
      break;
    case "prompt-completion":
      validatePromptCompletionExample(example, report);
      break;
    case "text":
      validateTextExample(example, report);
      break;
  }
  finish(result);
  if (result.hasErrors) return result;

  if (context.fingerprints !== false) {
    const content = exampleText(example, format);
    result.exactHash = hash64(content);
    const signature = new Uint32Array(MINHASH_SIZE);
    if (minHashSignature(content, signature)) result.signature = signature;
  }
  if (context.prompts) {
    const prompt = normalizeText(promptText(example, format));
    if (prompt !== "") result.promptHash = hash64(prompt);
  }
  const counter = context.counter;
  if (counter) {
    try {
      result.tokens = countTokens(example, format, counter);
    } catch (error) {
      report("token_count_failed", `tokens could not be counted with ${counter.method}: ${(error as Error).message}; fix the example or check the model's chat template`);
      return finish(result);
    }
    const limit = counter.contextLength;
    if (limit !== null && result.tokens.longest > limit) {
      report(
        "example_over_context_length",
        `the example has ${result.tokens.longest} tokens, over the model's context of ${limit}; it will be truncated in training, shorten or split it`,
      );
    }
  }
  return result;
}

function finish(result: LineResult): LineResult {
  result.hasErrors = result.problems.some((problem) => severityOf(problem.code) === "error");
  return result;
}

/**
 * Chat, prompt-completion and text examples go to the counter as they are (the token toolkit's
 * counters take all three; a counter that only takes chat reports `token_count_failed` for the
 * others). A preference pair counts both sequences (input + each output) and the longer one is
 * checked against the context length.
 */
function countTokens(example: Record<string, unknown>, format: DatasetFormat, counter: ExampleTokenCounter): LineTokens {
  const single = (chat: CountableExample): LineTokens => {
    const counted = (counter.count as (example: CountableExample) => ExampleTokens)(chat);
    return { total: counted.total, trained: counted.trained, longest: counted.total };
  };
  switch (format) {
    case "chat":
      return single(example as unknown as ChatExample);
    case "prompt-completion":
      return single({ prompt: example.prompt as string, completion: example.completion as string });
    case "text":
      return single({ text: example.text as string });
    case "preference": {
      const input = example.input as { messages: ChatMessage[]; tools?: unknown[] };
      const preferred = counter.count({ messages: [...input.messages, ...(example.preferred_output as ChatMessage[])], tools: input.tools });
      const rejected = counter.count({ messages: [...input.messages, ...(example.non_preferred_output as ChatMessage[])], tools: input.tools });
      return { total: preferred.total + rejected.total, trained: preferred.trained + rejected.trained, longest: Math.max(preferred.total, rejected.total) };
    }
  }
}
