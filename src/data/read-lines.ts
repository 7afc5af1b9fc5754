import { isUtf8 } from "node:buffer";
import type { TextEncoding } from "./decode/reader-options.js";
import { utf8Bytes } from "./decode/source-bytes.js";

/**
 * Streams a text file as batches of lines with exact 1-based line numbers, never holding the
 * whole file. gzip/zstd files are decompressed and UTF-16 (byte order mark, or `encoding`),
 * Latin-1 and Windows-1252 text is transcoded to UTF-8 as it streams (src/data/decode). A line is the text between two `\n` bytes; a trailing `\r` is removed (CRLF files).
 * Lines that are not valid UTF-8 are still returned (decoded with U+FFFD replacements) and their
 * batch index is listed in `invalidUtf8`, so a validator can report them without stopping.
 */
export interface LineBatch {
  /** 1-based number of lines[0] */
  firstLine: number;
  lines: string[];
  /** indexes into `lines` of lines that are not valid UTF-8, ascending */
  invalidUtf8: number[];
  /** bytes of the file this batch covers, newlines included */
  bytes: number;
}

/**
 * Whole lines as raw bytes: `data` holds `lineCount` lines separated by `\n`, without the final
 * newline. Cheap to produce (only newlines are counted) and to transfer to a worker thread, which
 * decodes it with decodeLineChunk.
 */
export interface LineChunk {
  firstLine: number;
  lineCount: number;
  data: Uint8Array;
  /** bytes of the file this chunk covers, newlines included */
  bytes: number;
}

export interface ReadLinesOptions {
  /** read size; a chunk holds the complete lines of about this many bytes (default 256 KiB) */
  chunkBytes?: number;
  /** the file's text encoding (default utf-8; a UTF-16 byte order mark is followed whatever this says) */
  encoding?: TextEncoding;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export async function* readLineChunks(path: string, options: ReadLinesOptions = {}): AsyncGenerator<LineChunk> {
  const chunkBytes = options.chunkBytes ?? 1 << 18;
  const stream = utf8Bytes(path, { chunkBytes, ...(options.encoding !== undefined && { encoding: options.encoding }) });
  // bytes after the last newline seen, kept as parts so a line longer than a chunk is copied once
  let pending: Buffer[] = [];
  let nextLine = 1;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (chunk.lastIndexOf(NEWLINE) === -1) {
      pending.push(Buffer.from(chunk));
      continue;
    }
    const data: Buffer = pending.length === 0 ? chunk : Buffer.concat([...pending, chunk]);
    pending = [];
    const lastNewline = data.lastIndexOf(NEWLINE);
    // copies: the chunk may share memory with the stream's buffer pool, and a copy can be transferred
    const complete = new Uint8Array(data.subarray(0, lastNewline));
    if (lastNewline + 1 < data.length) pending.push(Buffer.from(data.subarray(lastNewline + 1)));
    const lineCount = countNewlines(complete) + 1;
    yield { firstLine: nextLine, lineCount, data: complete, bytes: lastNewline + 1 };
    nextLine += lineCount;
  }
  if (pending.length > 0) {
    const data = new Uint8Array(Buffer.concat(pending));
    if (data.length > 0) yield { firstLine: nextLine, lineCount: countNewlines(data) + 1, data, bytes: data.length };
  }
}

function countNewlines(data: Uint8Array): number {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let count = 0;
  let position = buffer.indexOf(NEWLINE);
  while (position !== -1) {
    count++;
    position = buffer.indexOf(NEWLINE, position + 1);
  }
  return count;
}

export async function* readLineBatches(path: string, options: ReadLinesOptions = {}): AsyncGenerator<LineBatch> {
  for await (const chunk of readLineChunks(path, options)) yield decodeLineChunk(chunk);
}

/** One line at a time, for callers that do not need batches. */
export async function* readLines(path: string, options: ReadLinesOptions = {}): AsyncGenerator<{ line: number; text: string; validUtf8: boolean }> {
  for await (const batch of readLineBatches(path, options)) {
    let invalidIndex = 0;
    for (let index = 0; index < batch.lines.length; index++) {
      const invalid = batch.invalidUtf8[invalidIndex] === index;
      if (invalid) invalidIndex++;
      yield { line: batch.firstLine + index, text: batch.lines[index] as string, validUtf8: !invalid };
    }
  }
}

/** Decodes a chunk into its lines, checking UTF-8 (per line only when the chunk has bad bytes). */
export function decodeLineChunk(chunk: LineChunk): LineBatch {
  const bytes = Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength);
  if (isUtf8(bytes)) {
    const lines = bytes.toString("utf8").split("\n");
    for (let index = 0; index < lines.length; index++) {
      const line = lines[index] as string;
      if (line.charCodeAt(line.length - 1) === CARRIAGE_RETURN) lines[index] = line.slice(0, -1);
    }
    return { firstLine: chunk.firstLine, lines, invalidUtf8: [], bytes: chunk.bytes };
  }
  const lines: string[] = [];
  const invalidUtf8: number[] = [];
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end === -1) end = bytes.length;
    let lineEnd = end;
    if (lineEnd > start && bytes[lineEnd - 1] === CARRIAGE_RETURN) lineEnd--;
    const lineBytes = bytes.subarray(start, lineEnd);
    if (!isUtf8(lineBytes)) invalidUtf8.push(lines.length);
    lines.push(lineBytes.toString("utf8"));
    start = end + 1;
  }
  return { firstLine: chunk.firstLine, lines, invalidUtf8, bytes: chunk.bytes };
}
