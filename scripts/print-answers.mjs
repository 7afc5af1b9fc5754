// Prints the demo's answers: reference and generated output per test example, and with two files
// (before, after) both outputs side by side with whether each matches the reference exactly.
import { readFileSync } from "node:fs";

const [beforePath, afterPath] = process.argv.slice(2);
const read = (path) => readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
const before = read(beforePath);
const after = afterPath ? read(afterPath) : null;
const mark = (output, reference) => (output.trim() === reference.trim() ? "exact match" : "differs");
const clip = (text, width = 400) => (text.length > width ? `${text.slice(0, width)}…` : text);

for (const [index, example] of before.entries()) {
  console.log(`\n--- test example ${example.index + 1}`);
  console.log(example.user.split("\n").map((line) => `  | ${line}`).join("\n"));
  console.log(`  reference: ${example.reference}`);
  console.log(`  before:    ${clip(example.output).replace(/\n/g, "\n             ")}  [${mark(example.output, example.reference)}]`);
  if (after) console.log(`  after:     ${clip(after[index].output).replace(/\n/g, "\n             ")}  [${mark(after[index].output, example.reference)}]`);
}
