import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { TunekitError } from "../../core/errors.js";
import { detectFormat, type DatasetFormat } from "../../spec/dataset.js";

/** One line of a JSONL dataset: a parsed example of a known format, or the reason it was skipped. */
export type DatasetLine =
  | { line: number; ok: true; format: DatasetFormat; example: Record<string, unknown> }
  | { line: number; ok: false; reason: string };

/**
 * Stream a JSONL dataset line by line (constant memory). Blank lines are ignored; lines that are
 * not JSON objects, or whose format is unknown or differs from `format`, come back as skipped
 * with a reason (`tunekit data validate` explains each in full).
 */
export async function* readDatasetExamples(file: string, format: DatasetFormat | "auto" = "auto"): AsyncGenerator<DatasetLine> {
  const stream = createReadStream(file, { encoding: "utf8" });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", reject);
  });
  try {
    await opened;
  } catch (error) {
    throw new TunekitError(`Cannot read \`${file}\`: ${error instanceof Error ? error.message : String(error)}`, {
      kind: "not_found",
      code: "file_not_found",
      file,
      fix: "Check the path of the dataset file.",
      cause: error,
    });
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const text of lines) {
    lineNumber++;
    const trimmed = lineNumber === 1 ? text.replace(/^\uFEFF/, "").trim() : text.trim();
    if (trimmed === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      yield { line: lineNumber, ok: false, reason: `not valid JSON (${error instanceof Error ? error.message : String(error)})` };
      continue;
    }
    const detected = detectFormat(value);
    if (detected === null) {
      yield { line: lineNumber, ok: false, reason: "not an example of a known format (chat, prompt-completion, preference, text)" };
      continue;
    }
    if (format !== "auto" && detected !== format) {
      yield { line: lineNumber, ok: false, reason: `a ${detected} example in a ${format} dataset` };
      continue;
    }
    const problem = shapeProblem(detected, value as Record<string, unknown>);
    if (problem !== null) {
      yield { line: lineNumber, ok: false, reason: problem };
      continue;
    }
    yield { line: lineNumber, ok: true, format: detected, example: value as Record<string, unknown> };
  }
}

/** The minimum shape token counting needs; full validation is `tunekit data validate`'s job. */
function shapeProblem(format: DatasetFormat, example: Record<string, unknown>): string | null {
  const messagesOk = (value: unknown) =>
    Array.isArray(value) && value.every((message) => message !== null && typeof message === "object" && typeof message.role === "string");
  switch (format) {
    case "chat":
      return messagesOk(example.messages) && (example.messages as unknown[]).length > 0 ? null : "`messages` is not a list of messages with a `role`";
    case "preference": {
      const input = example.input as { messages?: unknown } | undefined;
      return input && messagesOk(input.messages) && messagesOk(example.preferred_output) ? null : "`input.messages` or `preferred_output` is not a list of messages";
    }
    case "prompt-completion":
      return typeof example.prompt === "string" && typeof example.completion === "string" ? null : "`prompt` and `completion` must be strings";
    case "text":
      return typeof example.text === "string" ? null : "`text` must be a string";
  }
}
