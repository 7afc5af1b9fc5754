import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { isUtf8 } from "node:buffer";
import { createGunzip } from "node:zlib";
import { TunekitError } from "../../core/errors.js";
import type { TextEncoding } from "./reader-options.js";

/**
 * The bytes of a dataset file as a stream, whatever is wrapped around them: gzip and zstd are
 * detected by their magic bytes and decompressed as the file is read (never whole in memory),
 * and text in UTF-16 (byte order mark, or `--encoding utf-16le`), Latin-1 or Windows-1252 is
 * transcoded to UTF-8 chunk by chunk. Nothing here replaces a byte with U+FFFD: UTF-8 is passed
 * through as it is (the line reader flags bad lines, checkedUtf8 refuses them), and a UTF-16
 * decode error is an error.
 */
export type Compression = "gzip" | "zstd";
export type ByteOrderMark = "utf-8" | "utf-16le" | "utf-16be";

export interface SourceHead {
  compression: Compression | null;
  /** the first bytes of the (decompressed) content, up to the size asked for */
  head: Buffer;
  bom: ByteOrderMark | null;
}

export interface SourceBytesOptions {
  encoding?: TextEncoding;
  /** read size (default 256 KiB) */
  chunkBytes?: number;
}

const HEAD_BYTES = 1 << 16;

export function compressionOf(bytes: Uint8Array): Compression | null {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return "gzip";
  if (bytes[0] === 0x28 && bytes[1] === 0xb5 && bytes[2] === 0x2f && bytes[3] === 0xfd) return "zstd";
  return null;
}

export function byteOrderMarkOf(bytes: Uint8Array): ByteOrderMark | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  return null;
}

/** The first `bytes` bytes of a file as stored (not decompressed). */
export async function readRawHead(path: string, bytes = HEAD_BYTES): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The compression, the first decompressed bytes and the byte order mark of a file (reads little: stops after `bytes`). */
export async function readSourceHead(path: string, bytes = HEAD_BYTES): Promise<SourceHead> {
  const raw = await readRawHead(path, bytes);
  const compression = compressionOf(raw);
  if (compression === null) return { compression, head: raw, bom: byteOrderMarkOf(raw) };
  const parts: Buffer[] = [];
  let length = 0;
  const iterator = decompressedBytes(path, compression, { chunkBytes: 1 << 16 });
  try {
    for await (const chunk of iterator) {
      parts.push(chunk);
      length += chunk.length;
      if (length >= bytes) break;
    }
  } catch (error) {
    // a truncated file still has a head worth sniffing; the full read reports the damage
    if (length === 0) throw error;
  } finally {
    await iterator.return(undefined);
  }
  const head = Buffer.concat(parts).subarray(0, bytes);
  return { compression, head, bom: byteOrderMarkOf(head) };
}

function compressionError(path: string, compression: Compression, error: unknown): TunekitError {
  return new TunekitError(`\`${path}\` is not a complete ${compression} file (${(error as Error).message})`, {
    kind: "data",
    code: "invalid_compression",
    file: path,
    fix: `check the download is complete (\`${compression === "gzip" ? "gzip -t" : "zstd -t"} ${path}\`), or decompress it with another tool and pass the result`,
    cause: error,
  });
}

/** The decompressed bytes of a gzip or zstd file, streamed. */
export async function* decompressedBytes(path: string, compression: Compression, options: SourceBytesOptions = {}): AsyncGenerator<Buffer> {
  const stream = createReadStream(path, { highWaterMark: options.chunkBytes ?? 1 << 18 });
  try {
    if (compression === "gzip") {
      const gunzip = createGunzip();
      stream.on("error", (error) => gunzip.destroy(error));
      try {
        for await (const chunk of stream.pipe(gunzip) as AsyncIterable<Buffer>) yield chunk;
      } catch (error) {
        throw isTunekitErrorLike(error) ? error : compressionError(path, compression, error);
      } finally {
        gunzip.destroy();
      }
      return;
    }
    const { Decompress } = await import("fzstd");
    const output: Buffer[] = [];
    const decoder = new Decompress((data) => {
      output.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        while (output.length > 0) yield output.shift() as Buffer;
      }
      decoder.push(new Uint8Array(0), true);
    } catch (error) {
      throw compressionError(path, compression, error);
    }
    while (output.length > 0) yield output.shift() as Buffer;
  } finally {
    stream.destroy();
  }
}

function isTunekitErrorLike(error: unknown): boolean {
  return error instanceof TunekitError;
}

/** The file's bytes, decompressed when it is gzip or zstd; otherwise as they are on disk. */
export async function* sourceBytes(path: string, options: SourceBytesOptions = {}, head?: SourceHead): AsyncGenerator<Buffer> {
  const { compression } = head ?? (await readSourceHead(path, 4));
  if (compression !== null) {
    yield* decompressedBytes(path, compression, options);
    return;
  }
  const stream = createReadStream(path, { highWaterMark: options.chunkBytes ?? 1 << 18 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) yield chunk;
  } finally {
    stream.destroy();
  }
}

/** The encoding a file is read with: a UTF-16 byte order mark wins, then `--encoding`, then UTF-8. */
export function effectiveEncoding(head: SourceHead, requested: TextEncoding | undefined): TextEncoding {
  if (head.bom === "utf-16le" || head.bom === "utf-16be") return head.bom;
  return requested ?? "utf-8";
}

/**
 * The file as UTF-8 bytes: decompressed, then transcoded from UTF-16 / Latin-1 / Windows-1252
 * (a UTF-16 byte order mark is dropped). UTF-8 input is passed through untouched, BOM included.
 */
export async function* utf8Bytes(path: string, options: SourceBytesOptions = {}, known?: SourceHead): AsyncGenerator<Buffer> {
  const head = known ?? (await readSourceHead(path));
  const encoding = effectiveEncoding(head, options.encoding);
  const bytes = sourceBytes(path, options, head);
  if (encoding === "utf-8") {
    yield* bytes;
    return;
  }
  if (encoding === "latin1") {
    for await (const chunk of bytes) yield Buffer.from(chunk.toString("latin1"), "utf8");
    return;
  }
  // windows-1252 maps every byte (WHATWG), so it never produces U+FFFD; UTF-16 is decoded strictly
  const decoder = new TextDecoder(encoding, { fatal: encoding !== "windows-1252" });
  let decoded = 0;
  try {
    for await (const chunk of bytes) {
      const text = decoder.decode(chunk, { stream: true });
      decoded += chunk.length;
      if (text.length > 0) yield Buffer.from(text, "utf8");
    }
    const rest = decoder.decode();
    if (rest.length > 0) yield Buffer.from(rest, "utf8");
  } catch (error) {
    if (error instanceof TunekitError) throw error;
    throw new TunekitError(`\`${path}\` is not valid ${encoding.toUpperCase()} text (near byte ${decoded} of the content)`, {
      kind: "usage",
      code: "invalid_encoding",
      file: path,
      field: "--encoding",
      fix:
        head.bom !== null
          ? "the file starts with a UTF-16 byte order mark but its text is damaged: export it again, as UTF-8 if you can"
          : "check `--encoding`: utf-8 (the default), latin1, windows-1252, utf-16le or utf-16be",
      cause: error,
    });
  }
}

/** Offset of the first byte that breaks UTF-8 in `bytes`, or -1 (an incomplete sequence at the very end counts as fine). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let index = 0;
  const length = bytes.length;
  while (index < length) {
    const byte = bytes[index] as number;
    if (byte < 0x80) {
      index++;
      continue;
    }
    let need: number;
    let min: number;
    if (byte >= 0xc2 && byte <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return index;
    if (index + need >= length) {
      // the sequence runs past the end: fine only if every byte present is a continuation byte
      for (let next = index + 1; next < length; next++) if (((bytes[next] as number) & 0xc0) !== 0x80) return index;
      return -1;
    }
    let code = byte & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let next = 1; next <= need; next++) {
      const continuation = bytes[index + next] as number;
      if ((continuation & 0xc0) !== 0x80) return index;
      code = (code << 6) | (continuation & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return index;
    index += need + 1;
  }
  return -1;
}

/** Bytes at the end of `bytes` that may start a UTF-8 sequence the next chunk completes (0-3). */
function incompleteTail(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back] as number;
    if ((byte & 0xc0) === 0x80) continue; // continuation: look further back
    if (byte < 0x80) return 0;
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return need > back ? back : 0;
  }
  return 0;
}

function countNewlines(bytes: Uint8Array, end = bytes.length): number {
  let count = 0;
  for (let index = 0; index < end; index++) if (bytes[index] === 0x0a) count++;
  return count;
}

/**
 * The error for bytes that are not UTF-8, naming the line and what those bytes read as in
 * Windows-1252 (the usual culprit: a CSV saved by Excel), with the `--encoding` fix.
 */
export function notUtf8Error(path: string, line: number, context: Buffer, badOffset: number): TunekitError {
  const lineStart = context.lastIndexOf(0x0a, badOffset - 1) + 1;
  const snippetStart = Math.max(lineStart, badOffset - 24);
  let snippetEnd = context.indexOf(0x0a, badOffset);
  if (snippetEnd === -1 || snippetEnd > badOffset + 16) snippetEnd = Math.min(context.length, badOffset + 16);
  const asWindows1252 = new TextDecoder("windows-1252").decode(context.subarray(snippetStart, snippetEnd)).replace(/[\r\n]+$/, "");
  const byte = (context[badOffset] as number).toString(16).toUpperCase().padStart(2, "0");
  return new TunekitError(
    `line ${line} of \`${path}\` is not UTF-8 (byte 0x${byte}, column ${badOffset - lineStart + 1}; in Windows-1252 it reads "${asWindows1252}"): the file looks like Windows-1252 or Latin-1`,
    {
      kind: "usage",
      code: "not_utf8",
      file: path,
      line,
      field: "--encoding",
      fix: "pass `--encoding windows-1252` (Excel on Windows) or `--encoding latin1` to read it as it is, or re-save it as UTF-8",
    },
  );
}

/**
 * UTF-8 bytes checked as they stream: the first byte that is not UTF-8 stops the read with
 * notUtf8Error, so a reader never turns "Café" in Windows-1252 into "Caf\uFFFD".
 */
export async function* checkedUtf8(path: string, chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let line = 1;
  let carry: Buffer | null = null;
  for await (const incoming of chunks) {
    const chunk: Buffer = carry ? Buffer.concat([carry, incoming]) : incoming;
    carry = null;
    const tail = incompleteTail(chunk);
    const complete = tail === 0 ? chunk : chunk.subarray(0, chunk.length - tail);
    if (tail > 0) carry = Buffer.from(chunk.subarray(chunk.length - tail));
    if (!isUtf8(complete)) {
      const bad = firstInvalidUtf8(complete);
      const offset = bad === -1 ? 0 : bad;
      throw notUtf8Error(path, line + countNewlines(complete, offset), complete, offset);
    }
    line += countNewlines(complete);
    if (complete.length > 0) yield complete;
  }
  if (carry) throw notUtf8Error(path, line, carry, 0);
}
