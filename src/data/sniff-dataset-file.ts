import { open } from "node:fs/promises";
import { recordFormatFromPath, type RecordFileFormat } from "./read-records.js";

/**
 * What an uploaded file holds, from its first bytes and its name: JSON Lines (validated line by
 * line), a table or JSON array (needs a column mapping first), or something that is not a text
 * dataset at all (empty, binary, UTF-16). Reads at most 64 KiB.
 */
export type SniffedDatasetFile =
  | { kind: "jsonl" }
  | { kind: "table"; container: Exclude<RecordFileFormat, "jsonl"> }
  | { kind: "empty" }
  | { kind: "binary"; reason: string };

const SNIFF_BYTES = 1 << 16;

/**
 * Text starting with `[`: one JSON array (pretty-printed, or all on one line), or JSON Lines whose
 * lines happen to be arrays (`[]` a line, which the validator reports line by line)?
 */
function isJsonArrayDocument(text: string): boolean {
  const newline = text.indexOf("\n");
  const firstLine = newline === -1 ? text : text.slice(0, newline);
  try {
    JSON.parse(firstLine);
  } catch {
    return true; // the array goes on past its first line
  }
  return newline === -1 || text.slice(newline + 1).trim() === "";
}

export async function sniffDatasetFile(path: string, filename: string): Promise<SniffedDatasetFile> {
  const handle = await open(path, "r");
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  if (head.length === 0) return { kind: "empty" };
  if (head.subarray(0, 4).toString("latin1") === "PAR1") return { kind: "table", container: "parquet" };
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    return { kind: "binary", reason: `the file is UTF-16 (${head[0] === 0xff ? "little" : "big"}-endian byte order mark); re-save it as UTF-8` };
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return { kind: "binary", reason: "the file is gzip-compressed: decompress it before uploading" };
  if (head.subarray(0, 4).toString("latin1") === "PK\u0003\u0004") return { kind: "binary", reason: "the file is a ZIP archive (an .xlsx workbook is one): export the sheet as CSV UTF-8" };
  const nul = head.indexOf(0);
  if (nul !== -1) return { kind: "binary", reason: `the file holds binary data (a NUL byte at offset ${nul}), not text` };
  const named = recordFormatFromPath(filename);
  if (named === "csv" || named === "tsv" || named === "parquet") return { kind: "table", container: named };
  const text = head.toString("utf8").replace(/^\uFEFF/, "").trimStart();
  if (text[0] === "[" && isJsonArrayDocument(text)) return { kind: "table", container: "json" };
  return { kind: "jsonl" };
}
