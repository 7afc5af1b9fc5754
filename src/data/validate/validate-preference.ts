import { contentText } from "./fingerprint.js";
import { validateMessages, type Report } from "./validate-chat.js";

const RECOGNIZED_PREFERENCE_KEYS = new Set(["input", "preferred_output", "non_preferred_output", "metadata"]);

/**
 * OpenAI's preference (DPO) format: {"input": {"messages": [...], "tools"?: [...]},
 * "preferred_output": [assistant message], "non_preferred_output": [assistant message]}.
 * Input messages get the chat message checks (no assistant reply needed: the outputs are it).
 */
export function validatePreferenceExample(example: Record<string, unknown>, report: Report): void {
  for (const key of Object.keys(example)) {
    if (!RECOGNIZED_PREFERENCE_KEYS.has(key)) {
      report("unrecognized_key", `\`${key}\` is not a preference example key and will be ignored; remove it (allowed: ${[...RECOGNIZED_PREFERENCE_KEYS].join(", ")})`);
    }
  }
  const input = example.input;
  const messages = input !== null && typeof input === "object" && !Array.isArray(input) ? (input as Record<string, unknown>).messages : undefined;
  if (!Array.isArray(messages) || messages.length === 0) {
    report("missing_input_messages", '`input.messages` is missing or empty; give the prompt as "input": {"messages": [{"role": "user", "content": "..."}]}');
  } else {
    const summary = validateMessages(messages, "input.messages", report);
    if (!summary.hasUser) report("missing_user_message", "`input.messages` has no user message; add the user turn both outputs answer");
  }
  const preferred = checkOutput(example.preferred_output, "preferred_output", report);
  const nonPreferred = checkOutput(example.non_preferred_output, "non_preferred_output", report);
  if (preferred !== null && preferred === nonPreferred) {
    report("identical_preference_outputs", "`preferred_output` and `non_preferred_output` are the same; a pair teaches nothing unless the outputs differ");
  }
}

/** Returns the output text when the output is valid, else null. */
function checkOutput(output: unknown, key: string, report: Report): string | null {
  const shape = `\`${key}\` must be a list holding one assistant message, e.g. [{"role": "assistant", "content": "..."}]`;
  if (!Array.isArray(output) || output.length !== 1) {
    report(
      "invalid_preference_output",
      `${shape}; it is ${output === undefined ? "missing" : Array.isArray(output) ? `a list of ${output.length}` : JSON.stringify(output)?.slice(0, 40)}`,
    );
    return null;
  }
  const message = output[0] as Record<string, unknown> | null;
  if (message === null || typeof message !== "object" || message.role !== "assistant") {
    report("invalid_preference_output", `${shape}; \`${key}[0].role\` is ${JSON.stringify(message?.role)}`);
    return null;
  }
  const hasCalls = Array.isArray(message.tool_calls) && message.tool_calls.length > 0;
  const text = contentText(message.content);
  if (text.trim() === "" && !hasCalls) {
    report("invalid_preference_output", `\`${key}[0].content\` is empty or not text; give the assistant reply`);
    return null;
  }
  return `${text}\u0001${hasCalls ? JSON.stringify(message.tool_calls) : ""}`;
}
