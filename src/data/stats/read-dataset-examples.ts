import { detectFormat, type DatasetFormat } from "../../spec/dataset.js";
import { openDatasetRecords, type DatasetRecordsOptions } from "../decode/dataset-records.js";

/**
 * One record of a dataset: a parsed example of a known format, or the reason it was skipped.
 * `line` is the 1-based line (JSONL, CSV) or, for JSON arrays and Parquet, the record's position.
 */
export type DatasetLine = { line: number; ok: true; format: DatasetFormat; example: Record<string, unknown> } | { line: number; ok: false; reason: string };

/**
 * Stream a dataset record by record (every format the one reader reads: JSONL, CSV/TSV, JSON
 * arrays and `{"key": [...]}` wrappers, Parquet, Arrow, dataset folders, gzip/zstd, UTF-16 and
 * `--encoding`; `--map` applied; through src/data/decode/dataset-records.ts, so line numbers
 * match `tunekit data validate`). A table that needs `--map` is refused in one line. Blank lines are
 * ignored; records that are not JSON objects, or whose format is unknown or differs from
 * `format`, come back as skipped with a reason (`tunekit data validate` explains each in full).
 */
export async function* readDatasetExamples(file: string, format: DatasetFormat | "auto" = "auto", options: DatasetRecordsOptions = {}): AsyncGenerator<DatasetLine> {
  const reader = await openDatasetRecords(file, options);
  for await (const record of reader.records) {
    const line = record.file !== undefined ? record.row : (record.line ?? record.row);
    if (record.problem) {
      yield { line, ok: false, reason: record.problem.message.replace(/^line \d+ is /, "") };
      continue;
    }
    const value = record.value;
    const detected = detectFormat(value);
    if (detected === null) {
      yield { line, ok: false, reason: "not an example of a known format (chat, prompt-completion, preference, text)" };
      continue;
    }
    if (format !== "auto" && detected !== format) {
      yield { line, ok: false, reason: `a ${detected} example in a ${format} dataset` };
      continue;
    }
    const problem = shapeProblem(detected, value as Record<string, unknown>);
    if (problem !== null) {
      yield { line, ok: false, reason: problem };
      continue;
    }
    yield { line, ok: true, format: detected, example: value as Record<string, unknown> };
  }
}

/** The minimum shape token counting needs; full validation is `tunekit data validate`'s job. */
function shapeProblem(format: DatasetFormat, example: Record<string, unknown>): string | null {
  const messagesOk = (value: unknown) => Array.isArray(value) && value.every((message) => message !== null && typeof message === "object" && typeof message.role === "string");
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
