import { describe, expect, it } from "vitest";
import { TiktokenCounter } from "./tiktoken-counter.js";

const texts = [
  "Hello, world! It's a test: don't you'll we've I'M THEY'RE.",
  "   leading and trailing spaces   ",
  "line one\nline two\r\n\r\n\ttabbed\n\n\n",
  "numbers 1234567 3.14159 -42 1,000,000 2024-11-24",
  "Grüße aus Köln, naïve café, 数据模型很好, Привет мир, مرحبا, 🎉🚀 emoji",
  "code: const x = foo(bar[0]) => { return x ** 2; } // comment",
  "URLs https://example.com/a/b?c=d&e=f#g and e-mail a.b@c.io",
  "a".repeat(300) + " " + "ab".repeat(100),
  "<|endoftext|> is ordinary text for encode_ordinary",
];

describe("the tiktoken counter's piece cache", () => {
  it.each(["o200k_base", "cl100k_base"] as const)("counts exactly what %s's encoder counts, cached or not", (encoding) => {
    const counter = new TiktokenCounter(encoding);
    for (let round = 0; round < 2; round++) {
      for (const text of [...texts, ...texts.map((text) => text.toUpperCase())]) {
        expect(counter.encode(text)).toBe(counter.encodeUncached(text));
      }
    }
  });
});
