// Writes a synthetic chat fine-tuning dataset (deterministic: same N, same bytes) for the data
// benchmarks: system + 1-2 user/assistant turns, words from a made-up vocabulary with some
// punctuation, numbers and non-ASCII text, and ~1% exact duplicates.
import { createWriteStream } from "node:fs";
import { once } from "node:events";

function random(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
}

const SYLLABLES = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "an", "or", "qu", "is", "tem", "bra", "no", "li", "ex", "da", "pho", "ri", "us"];
const EXTRAS = ["café", "naïve", "数据", "模型", "Grüße", "2024", "3.14", "#42", "e-mail", "API", "JSON", "GPU"];
const SYSTEMS = [
  "You are a helpful assistant.",
  "You are a concise support agent for an online bookshop. Answer in two sentences at most.",
  "You are Marv, a factual chatbot that is also sarcastic.",
  "You translate customer questions into polite, formal replies.",
  "Answer as a senior engineer reviewing code.",
];

export async function generateChatDataset(path, examples, seed = 7) {
  const next = random(seed);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const vocabulary = Array.from({ length: 3000 }, () => {
    const parts = 1 + Math.floor(next() * 3);
    let word = "";
    for (let index = 0; index < parts; index++) word += pick(SYLLABLES);
    return word;
  });
  const sentence = (words) => {
    let text = "";
    for (let index = 0; index < words; index++) {
      let word = next() < 0.04 ? pick(EXTRAS) : pick(vocabulary);
      if (index === 0) word = word[0].toUpperCase() + word.slice(1);
      text += (index === 0 ? "" : next() < 0.08 ? ", " : " ") + word;
    }
    return `${text}${pick([".", ".", ".", "?", "!"])}`;
  };
  const paragraph = (minimum, maximum) => {
    const target = minimum + Math.floor(next() * (maximum - minimum));
    const sentences = [];
    let words = 0;
    while (words < target) {
      const length = 4 + Math.floor(next() * 14);
      sentences.push(sentence(length));
      words += length;
    }
    return sentences.join(" ");
  };
  const out = createWriteStream(path);
  const recent = [];
  let bytes = 0;
  for (let index = 0; index < examples; index++) {
    let line;
    if (recent.length > 0 && next() < 0.01) {
      line = pick(recent);
    } else {
      const messages = [{ role: "system", content: pick(SYSTEMS) }];
      const turns = 1 + (next() < 0.3 ? 1 : 0);
      for (let turn = 0; turn < turns; turn++) {
        messages.push({ role: "user", content: paragraph(5, 30) });
        messages.push({ role: "assistant", content: paragraph(10, 60) });
      }
      line = JSON.stringify({ messages });
      if (recent.length < 100) recent.push(line);
      else recent[Math.floor(next() * 100)] = line;
    }
    bytes += Buffer.byteLength(line) + 1;
    if (!out.write(`${line}\n`)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return bytes;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, count] = process.argv.slice(2);
  if (!path || !count) {
    console.error("usage: node bench/data/generate.mjs OUT.jsonl EXAMPLES");
    process.exit(2);
  }
  const bytes = await generateChatDataset(path, Number(count));
  console.log(`wrote ${count} examples, ${bytes} bytes to ${path}`);
}
