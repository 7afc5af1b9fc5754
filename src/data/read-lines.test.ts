import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readLineBatches, readLines } from "./read-lines.js";

const directory = mkdtempSync(path.join(tmpdir(), "tunekit-read-lines-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function write(name: string, content: string | Buffer): string {
  const file = path.join(directory, name);
  writeFileSync(file, content);
  return file;
}

async function collect(file: string, chunkBytes?: number) {
  const lines = [];
  for await (const line of readLines(file, { chunkBytes })) lines.push(line);
  return lines;
}

describe("readLines", () => {
  it("numbers lines from 1, strips CR of CRLF, keeps blank lines, needs no final newline", async () => {
    const file = write("mixed.jsonl", 'a\r\n\r\n{"b":1}\nlast');
    expect(await collect(file)).toEqual([
      { line: 1, text: "a", validUtf8: true },
      { line: 2, text: "", validUtf8: true },
      { line: 3, text: '{"b":1}', validUtf8: true },
      { line: 4, text: "last", validUtf8: true },
    ]);
  });

  it("gives the same lines and numbers whatever the chunk size (lines spanning chunks)", async () => {
    const text = Array.from({ length: 500 }, (_, index) => `{"line": ${index + 1}, "text": "${"é".repeat(index % 37)}"}`).join("\n");
    const file = write("many.jsonl", `${text}\n`);
    const reference = await collect(file);
    expect(reference).toHaveLength(500);
    for (const chunkBytes of [7, 64, 1000]) {
      expect(await collect(file, chunkBytes)).toEqual(reference);
    }
    reference.forEach((entry) => expect(JSON.parse(entry.text).line).toBe(entry.line));
  });

  it("flags lines that are not UTF-8 and only those", async () => {
    const file = write("bad.jsonl", Buffer.concat([Buffer.from("ok\n"), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), Buffer.from("fine é\n")]));
    const lines = await collect(file);
    expect(lines.map((line) => line.validUtf8)).toEqual([true, false, true]);
    expect(lines[1]?.text).toBe("caf\ufffd");
    expect(lines[2]?.text).toBe("fine é");
  });

  it("reports the bytes each batch covers and yields nothing for an empty file", async () => {
    const file = write("bytes.jsonl", "abc\ndef\n");
    let bytes = 0;
    for await (const batch of readLineBatches(file, { chunkBytes: 3 })) bytes += batch.bytes;
    expect(bytes).toBe(8);
    expect(await collect(write("empty.jsonl", ""))).toEqual([]);
  });
});
