import { describe, expect, it } from "vitest";
import { loadTokenCounter } from "../tokens/load-token-counter.js";
import { withPieceCache } from "./piece-cache.js";

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

describe("withPieceCache", () => {
  it.each(["gpt-4o-mini-2024-07-18", "gpt-3.5-turbo-0125"])("counts exactly what %s's counter counts", async (model) => {
    const plain = await loadTokenCounter(model);
    const cached = withPieceCache(await loadTokenCounter(model));
    expect(cached.method).toBe(plain.method);
    expect(cached.contextLength).toBe(plain.contextLength);
    for (let round = 0; round < 2; round++) {
      for (const text of texts) {
        const example = { messages: [{ role: "user" as const, content: text }, { role: "assistant" as const, content: text.toUpperCase(), name: "bot" }] };
        expect(cached.count(example)).toEqual(plain.count(example));
        expect(cached.count({ prompt: text, completion: text })).toEqual(plain.count({ prompt: text, completion: text }));
      }
    }
  });
});
