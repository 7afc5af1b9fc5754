import { recordFormatFromPath, type RecordFileFormat } from "../read-records.js";

/**
 * What `tunekit data convert --from` accepts: record files whose columns are mapped to messages
 * (csv, tsv, json, jsonl, parquet), and two community layouts that say their own roles (alpaca,
 * sharegpt), stored in any record file (usually .json or .jsonl, Hugging Face's as .parquet).
 */
export type ConvertSourceFormat = RecordFileFormat | "alpaca" | "sharegpt";

export const CONVERT_SOURCE_FORMATS: readonly ConvertSourceFormat[] = ["csv", "tsv", "json", "jsonl", "parquet", "alpaca", "sharegpt"];

export function isConvertSourceFormat(value: string): value is ConvertSourceFormat {
  return (CONVERT_SOURCE_FORMATS as readonly string[]).includes(value);
}

/** The --from a file's extension implies (alpaca and sharegpt are never implied), or null. */
export function sourceFormatFromPath(path: string): ConvertSourceFormat | null {
  return recordFormatFromPath(path);
}
