import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { checkedUtf8, firstInvalidUtf8, readSourceHead, utf8Bytes } from "./source-bytes.js";

const scratch = mkdtempSync(join(tmpdir(), "tunekit-source-bytes-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

async function* pieces(buffer: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let start = 0; start < buffer.length; start += size) yield buffer.subarray(start, start + size);
}

describe("firstInvalidUtf8", () => {
  it("finds the first byte that breaks UTF-8, and accepts a sequence cut at the end", () => {
    expect(firstInvalidUtf8(Buffer.from("Café ✓ 🍰"))).toBe(-1);
    expect(firstInvalidUtf8(Buffer.from([0x43, 0x61, 0x66, 0xe9, 0x3f]))).toBe(3);
    expect(firstInvalidUtf8(Buffer.from([0x41, 0xc0, 0x80]))).toBe(1); // overlong
    expect(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0); // a surrogate
    expect(firstInvalidUtf8(Buffer.from([0x41, 0xf0, 0x9f]))).toBe(-1); // cut, completed by the next chunk
  });
});

describe("checkedUtf8", () => {
  it("passes UTF-8 through whatever the chunk boundaries, characters split across them included", async () => {
    const text = Buffer.from("line one\nCafé ✓ 🍰 crème\nthree\n".repeat(50));
    for (const size of [1, 2, 3, 5, 64]) expect((await collect(checkedUtf8("x.csv", pieces(text, size)))).equals(text)).toBe(true);
  });

  it("stops at the first bad byte with its line, column and the --encoding fix", async () => {
    const bytes = Buffer.concat([Buffer.from("a,b\nfine,ok\n"), Buffer.from([0x43, 0x61, 0x66, 0xe9, 0x2c, 0x78, 0x0a])]);
    for (const size of [1, 4, 1024]) {
      await expect(collect(checkedUtf8("x.csv", pieces(bytes, size)))).rejects.toMatchObject({ code: "not_utf8", line: 3, kind: "usage", field: "--encoding" });
    }
  });
});

describe("utf8Bytes", () => {
  it("decompresses gzip by its magic bytes and transcodes UTF-16 and Windows-1252 to UTF-8", async () => {
    const gz = join(scratch, "a.txt");
    writeFileSync(gz, gzipSync(Buffer.from("Café\n")));
    expect((await readSourceHead(gz)).compression).toBe("gzip");
    expect((await collect(utf8Bytes(gz))).toString()).toBe("Café\n");
    const utf16 = join(scratch, "b.txt");
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("Café 🍰\n".repeat(10_000), "utf16le")]));
    expect((await collect(utf8Bytes(utf16, { chunkBytes: 1001 }))).toString()).toBe("Café 🍰\n".repeat(10_000));
    const cp1252 = join(scratch, "c.txt");
    writeFileSync(cp1252, Buffer.from([0x93, 0x43, 0x61, 0x66, 0xe9, 0x94]));
    expect((await collect(utf8Bytes(cp1252, { encoding: "windows-1252" }))).toString()).toBe("\u201cCafé\u201d");
  });

  it("names a UTF-16 file whose text is broken instead of writing U+FFFD", async () => {
    const broken = join(scratch, "d.txt");
    writeFileSync(broken, Buffer.from([0xff, 0xfe, 0x41, 0x00, 0x00, 0xd8, 0x42, 0x00])); // a lone high surrogate
    await expect(collect(utf8Bytes(broken))).rejects.toMatchObject({ code: "invalid_encoding" });
  });
});
