import type { ReaderOptions } from "./decode/reader-options.js";
import { byteOrderMarkOf, compressionOf, effectiveEncoding, readRawHead, readSourceHead } from "./decode/source-bytes.js";
import { detectRecordFormat, recordFormatFromPath, type ReadableFormat } from "./read-records.js";

/**
 * What an uploaded file holds, from its first bytes and its name: JSON Lines (validated line by
 * line), a table or JSON array (needs a column mapping first), or something that is not a text
 * dataset at all (empty, binary, UTF-16). Reads at most 64 KiB.
 *
 * Two modes. Uploads (the default) name a gzip, zstd or UTF-16 file instead of accepting it: the
 * stored file is what training reads, and the trainer reads plain UTF-8 JSONL. With `decode`
 * (the CLI's data commands, which read through src/data/decode) compression and UTF-16 are looked
 * through and the content is sniffed.
 */
export interface SniffOptions extends ReaderOptions {
  decode?: boolean;
}
export type SniffedDatasetFile = { kind: "jsonl" } | { kind: "table"; container: Exclude<ReadableFormat, "jsonl"> } | { kind: "empty" } | { kind: "binary"; reason: string };

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

async function sniffDecoded(path: string, options: SniffOptions): Promise<SniffedDatasetFile> {
  const head = await readSourceHead(path, SNIFF_BYTES);
  if (head.head.length === 0) return { kind: "empty" };
  if (head.head.subarray(0, 4).toString("latin1") === "PK\u0003\u0004")
    return { kind: "binary", reason: "the file is a ZIP archive (an .xlsx workbook is one): export the sheet as CSV UTF-8" };
  const format = await detectRecordFormat(path, options, head);
  if (format === "parquet" || format === "arrow") return { kind: "table", container: format };
  const encoding = effectiveEncoding(head, options.encoding);
  const text = encoding === "utf-16le" || encoding === "utf-16be" ? new TextDecoder(encoding).decode(head.head) : head.head.toString("latin1");
  const nul = text.indexOf("\u0000");
  if (nul !== -1) return { kind: "binary", reason: `the file holds binary data (a NUL byte at offset ${nul}${head.compression ? " of its decompressed content" : ""}), not text` };
  return format === "jsonl" ? { kind: "jsonl" } : { kind: "table", container: format };
}

export async function sniffDatasetFile(path: string, filename: string, options: SniffOptions = {}): Promise<SniffedDatasetFile> {
  if (options.decode) return sniffDecoded(path, options);
  const head = await readRawHead(path, SNIFF_BYTES);
  if (head.length === 0) return { kind: "empty" };
  if (head.subarray(0, 4).toString("latin1") === "PAR1") return { kind: "table", container: "parquet" };
  const bom = byteOrderMarkOf(head);
  if (bom === "utf-16le" || bom === "utf-16be") {
    return {
      kind: "binary",
      reason: `the file is UTF-16 (${bom === "utf-16le" ? "little" : "big"}-endian byte order mark); re-save it as UTF-8 before uploading (\`tunekit data convert\` and \`tunekit data validate\` read it as it is)`,
    };
  }
  const compression = compressionOf(head);
  if (compression === "gzip")
    return { kind: "binary", reason: "the file is gzip-compressed; decompress it before uploading (`gunzip FILE`; `tunekit data validate` reads it as it is)" };
  if (compression === "zstd") {
    return { kind: "binary", reason: "the file is zstd-compressed; decompress it before uploading (`zstd -d FILE`; `tunekit data validate` reads it as it is)" };
  }
  if (head.subarray(0, 4).toString("latin1") === "PK\u0003\u0004")
    return { kind: "binary", reason: "the file is a ZIP archive (an .xlsx workbook is one): export the sheet as CSV UTF-8" };
  const nul = head.indexOf(0);
  if (nul !== -1) return { kind: "binary", reason: `the file holds binary data (a NUL byte at offset ${nul}), not text` };
  const named = recordFormatFromPath(filename);
  if (named === "csv" || named === "tsv" || named === "parquet") return { kind: "table", container: named };
  const text = head
    .toString("utf8")
    .replace(/^\uFEFF/, "")
    .trimStart();
  if (text[0] === "[" && isJsonArrayDocument(text)) return { kind: "table", container: "json" };
  return { kind: "jsonl" };
}
