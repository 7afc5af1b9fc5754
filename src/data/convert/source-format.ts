import { recordFormatFromPath, type RecordFileFormat } from "../read-records.js";

/**
 * What `tunekit data convert --from` accepts: record files whose columns are mapped to messages
 * (csv, tsv, json, jsonl, parquet), and two community layouts that say their own roles (alpaca,
 * sharegpt), stored in any record file (usually .json or .jsonl, Hugging Face's as .parquet).
 */
export type ConvertSourceFormat = RecordFileFormat | "alpaca" | "sharegpt";

export const CONVERT_SOURCE_FORMATS: readonly ConvertSourceFormat[] = ["csv", "tsv", "json", "jsonl", "parquet", "alpaca", "sharegpt"];

/**
 * `convert --from` also takes `preference`: TRL's `prompt`/`chosen`/`rejected` rows (text or
 * message lists, or the implicit-prompt form where both lists start with the prompt) and
 * LLaMA-Factory's `conversations` or `instruction`/`input` with `chosen`/`rejected`.
 * Kept apart from ConvertSourceFormat: other commands reading prompts (distill) have no use for it.
 */
export type ConvertFromFormat = ConvertSourceFormat | "preference";

export const CONVERT_FROM_FORMATS: readonly ConvertFromFormat[] = [...CONVERT_SOURCE_FORMATS, "preference"];

/** What `convert --to` writes: chat JSONL, or Tunekit's (OpenAI's DPO) preference JSONL. */
export type ConvertTarget = "chat" | "preference";

export const CONVERT_TARGETS: readonly ConvertTarget[] = ["chat", "preference"];

export function isConvertSourceFormat(value: string): value is ConvertSourceFormat {
  return (CONVERT_SOURCE_FORMATS as readonly string[]).includes(value);
}

export function isConvertFromFormat(value: string): value is ConvertFromFormat {
  return (CONVERT_FROM_FORMATS as readonly string[]).includes(value);
}

/** The --from a file's extension implies (alpaca and sharegpt are never implied), or null. */
export function sourceFormatFromPath(path: string): ConvertSourceFormat | null {
  return recordFormatFromPath(path);
}
