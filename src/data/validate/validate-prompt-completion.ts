import type { Report } from "./validate-chat.js";

const RECOGNIZED_KEYS = new Set(["prompt", "completion"]);

/** {"prompt": "...", "completion": "..."}: the completion is what is trained. */
export function validatePromptCompletionExample(example: Record<string, unknown>, report: Report): void {
  if (typeof example.prompt !== "string") {
    report("missing_prompt", `\`prompt\` is ${example.prompt === undefined ? "missing" : JSON.stringify(example.prompt)?.slice(0, 40)}; give the input text as "prompt": "..."`);
  }
  if (typeof example.completion !== "string" || example.completion.trim() === "") {
    report(
      "missing_completion",
      `\`completion\` is ${example.completion === undefined ? "missing" : typeof example.completion === "string" ? "empty" : JSON.stringify(example.completion)?.slice(0, 40)}; give the text the model should learn to produce as "completion": "..."`,
    );
  }
  for (const key of Object.keys(example)) {
    if (!RECOGNIZED_KEYS.has(key)) {
      report("unrecognized_key", `\`${key}\` is not a prompt-completion key and will be ignored; remove it (allowed: prompt, completion)`);
    }
  }
}
