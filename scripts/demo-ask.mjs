// The demo's before/after: asks a running `tunekit serve` (through the official openai SDK) to
// answer the first N test recipes with the base model and with the fine-tuned one, and prints the
// two answers beside the reference with whether each is the exact reference.
//   node scripts/demo-ask.mjs BASE_URL BASE_MODEL FINE_TUNED_MODEL TEST.jsonl [N]
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const [baseURL, baseModel, fineTunedModel, testFile, count = "3"] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused-on-a-local-server" });
const examples = readFileSync(testFile, "utf8")
  .trim()
  .split("\n")
  .slice(0, Number(count))
  .map((line) => JSON.parse(line));

const ask = async (model, messages) => {
  const started = performance.now();
  const completion = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 96 });
  return { text: completion.choices[0].message.content ?? "", usage: completion.usage, ms: Math.round(performance.now() - started) };
};
const mark = (answer, reference) => (answer.trim() === reference.trim() ? "exact" : "differs");
const indent = (text) => text.replace(/\n/g, "\n             ");

for (const [index, example] of examples.entries()) {
  const prompt = example.messages.filter((message) => message.role !== "assistant");
  const reference = example.messages.findLast((message) => message.role === "assistant").content;
  const [before, after] = [await ask(baseModel, prompt), await ask(fineTunedModel, prompt)];
  console.log(`\n--- test recipe ${index + 1}`);
  console.log(
    prompt
      .find((message) => message.role === "user")
      .content.split("\n")
      .map((line) => `  | ${line}`)
      .join("\n"),
  );
  console.log(`  reference: ${reference}`);
  console.log(`  before:    ${indent(before.text.slice(0, 300))}  [${mark(before.text, reference)}; ${before.usage.completion_tokens} tokens, ${before.ms} ms]`);
  console.log(`  after:     ${indent(after.text)}  [${mark(after.text, reference)}; ${after.usage.completion_tokens} tokens, ${after.ms} ms]`);
}
