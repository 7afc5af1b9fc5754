import type { Report } from "./validate-chat.js";

/** {"text": "..."}: plain text for continued pre-training, all of it trained. */
export function validateTextExample(example: Record<string, unknown>, report: Report): void {
  if (typeof example.text !== "string" || example.text.trim() === "") {
    report(
      "missing_text",
      `\`text\` is ${example.text === undefined ? "missing" : typeof example.text === "string" ? "empty" : JSON.stringify(example.text)?.slice(0, 40)}; give the document as "text": "..."`,
    );
  }
  for (const key of Object.keys(example)) {
    if (key !== "text") report("unrecognized_key", `\`${key}\` is not a text example key and will be ignored; remove it (allowed: text)`);
  }
}
