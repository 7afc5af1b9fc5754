import { closeSync, openSync, readSync } from "node:fs";

/**
 * Up to `limit` bytes of the file at `path` from byte `offset` on: a log or journal on shared
 * storage, read from where the last read stopped instead of from its start. Empty when the file is
 * not there (yet) or holds nothing past `offset`.
 */
export function readFileFrom(path: string, offset: number, limit: number): Buffer {
  let descriptor: number;
  try {
    descriptor = openSync(path, "r");
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const buffer = Buffer.alloc(limit);
    const bytesRead = readSync(descriptor, buffer, 0, limit, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    closeSync(descriptor);
  }
}
