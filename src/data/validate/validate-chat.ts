import type { ProblemCode } from "./problem-codes.js";

/** Collects the problems of one line; the caller attaches the line number. */
export type Report = (code: ProblemCode, message: string) => void;

/**
 * Keys a message may carry: the cookbook's role, content, name, function_call, weight, extended
 * with what OpenAI's chat fine-tuning format accepts today (tool_calls, tool_call_id, refusal).
 */
export const RECOGNIZED_MESSAGE_KEYS = new Set(["role", "content", "name", "function_call", "weight", "tool_calls", "tool_call_id", "refusal"]);
/** the cookbook's roles (system, user, assistant, function) plus tool and developer */
export const RECOGNIZED_ROLES = new Set(["system", "developer", "user", "assistant", "tool", "function"]);
const RECOGNIZED_CHAT_KEYS = new Set(["messages", "tools", "parallel_tool_calls", "functions", "metadata"]);

export interface MessagesSummary {
  hasSystem: boolean;
  hasUser: boolean;
  hasAssistant: boolean;
  lastRole: unknown;
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Checks a list of messages (`where` is its path, e.g. `messages` or `input.messages`) with the
 * cookbook's per-message checks and the extensions: weight, tool calls, empty assistant content.
 *
 * Where this differs from the cookbook's code, on purpose (the cookbook predates tools):
 * - an assistant message with `tool_calls` or `function_call` may have no `content` or a null one
 *   (the cookbook reports `message_missing_key` / `missing_content` for it);
 * - `content` may be a non-empty list of typed parts ({"type": "text", "text": ...}, images);
 * - whitespace-only content counts as empty; an empty assistant reply is `empty_assistant_content`
 *   (the cookbook's `missing_content`), other empty messages stay `missing_content`;
 * - roles tool and developer are recognised, and keys tool_calls, tool_call_id, refusal.
 */
export function validateMessages(messages: unknown[], where: string, report: Report): MessagesSummary {
  const summary: MessagesSummary = { hasSystem: false, hasUser: false, hasAssistant: false, lastRole: undefined };
  const pendingToolCalls = new Map<string, string>(); // id -> path of the call
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index];
    const path = `${where}[${index}]`;
    if (!isObject(message)) {
      report("data_type", `\`${path}\` is ${describeType(message)}; each message must be an object like {"role": "user", "content": "..."}`);
      summary.lastRole = undefined;
      continue;
    }
    const role = message.role;
    summary.lastRole = role;
    if (role === "system") summary.hasSystem = true;
    else if (role === "user") summary.hasUser = true;
    else if (role === "assistant") summary.hasAssistant = true;

    const hasToolCalls = message.tool_calls !== undefined && message.tool_calls !== null;
    const hasFunctionCall = message.function_call !== undefined && message.function_call !== null;
    const callsInsteadOfContent = role === "assistant" && (hasToolCalls || hasFunctionCall);

    if (!("role" in message)) {
      report("message_missing_key", `\`${path}\` has no \`role\`; add "role": "user" (or system, assistant, tool)`);
    }
    if (!("content" in message) && !callsInsteadOfContent) {
      report("message_missing_key", `\`${path}\` has no \`content\`; add "content": "<the message text>"`);
    }
    for (const key of Object.keys(message)) {
      if (!RECOGNIZED_MESSAGE_KEYS.has(key)) {
        report("message_unrecognized_key", `\`${path}.${key}\` is not a recognised message key; remove it (allowed: ${[...RECOGNIZED_MESSAGE_KEYS].join(", ")})`);
      }
    }
    if ("role" in message && (typeof role !== "string" || !RECOGNIZED_ROLES.has(role))) {
      report("unrecognized_role", `\`${path}.role\` is ${JSON.stringify(role)}; use one of ${[...RECOGNIZED_ROLES].join(", ")}`);
    }

    if ("content" in message || !callsInsteadOfContent) checkContent(message.content, path, role, callsInsteadOfContent, report);

    if ("weight" in message) {
      const weight = message.weight;
      if (weight !== 0 && weight !== 1) {
        report("invalid_weight", `\`${path}.weight\` is ${JSON.stringify(weight)}; use 0 (do not train on this message) or 1 (train on it)`);
      } else if (role !== "assistant") {
        report("invalid_weight", `\`${path}.weight\` is set on a ${JSON.stringify(role)} message; only assistant messages take a weight, remove it`);
      }
    }

    if (hasToolCalls) {
      if (role !== "assistant") {
        report("invalid_tool_call", `\`${path}.tool_calls\` is on a ${JSON.stringify(role)} message; only assistant messages make tool calls`);
      }
      if (!Array.isArray(message.tool_calls)) {
        report(
          "invalid_tool_call",
          `\`${path}.tool_calls\` is ${describeType(message.tool_calls)}; it must be a list of {"id", "type": "function", "function": {"name", "arguments"}}`,
        );
      } else {
        message.tool_calls.forEach((call: unknown, callIndex: number) => {
          const callPath = `${path}.tool_calls[${callIndex}]`;
          if (!isObject(call) || typeof call.id !== "string" || call.id === "") {
            report("invalid_tool_call", `\`${callPath}.id\` is missing; give every tool call a string id that a later tool message repeats in \`tool_call_id\``);
            return;
          }
          const fn = call.function;
          if (!isObject(fn) || typeof fn.name !== "string" || typeof fn.arguments !== "string") {
            report("invalid_tool_call", `\`${callPath}.function\` must be {"name": "<tool name>", "arguments": "<JSON text>"} with both values strings`);
          }
          pendingToolCalls.set(call.id, callPath);
        });
      }
    }
    if (role === "tool") {
      const id = message.tool_call_id;
      if (typeof id !== "string") {
        report("unmatched_tool_call", `\`${path}.tool_call_id\` is missing; a tool message must name the id of the assistant tool call it answers`);
      } else if (!pendingToolCalls.delete(id)) {
        report("unmatched_tool_call", `\`${path}.tool_call_id\` ${JSON.stringify(id)} matches no earlier assistant tool call; fix the id or add the call`);
      }
    }
  }
  for (const [id, callPath] of pendingToolCalls) {
    report(
      "unmatched_tool_call",
      `\`${callPath}.id\` ${JSON.stringify(id)} has no tool message answering it; add {"role": "tool", "tool_call_id": ${JSON.stringify(id)}, "content": "..."} after the call`,
    );
  }
  return summary;
}

function checkContent(content: unknown, path: string, role: unknown, callsInsteadOfContent: boolean, report: Report): void {
  if (callsInsteadOfContent && (content === null || content === undefined || content === "")) return;
  if (typeof content === "string") {
    if (content.trim() !== "") return;
    if (role === "assistant") {
      report("empty_assistant_content", `\`${path}.content\` is empty; give the assistant reply the model should learn, or remove the example`);
    } else {
      report("missing_content", `\`${path}.content\` is empty; give the message text`);
    }
    return;
  }
  if (Array.isArray(content)) {
    const valid = content.length > 0 && content.every((part) => isObject(part) && typeof part.type === "string");
    if (!valid) report("missing_content", `\`${path}.content\` must be a non-empty string or a non-empty list of parts like {"type": "text", "text": "..."}`);
    return;
  }
  if (content === undefined) return; // already reported as message_missing_key
  report("missing_content", `\`${path}.content\` is ${describeType(content)}; it must be the message text, a non-empty string`);
}

/** The cookbook's example-level checks for one chat example, plus the extensions. */
export function validateChatExample(example: Record<string, unknown>, report: Report): void {
  const messages = example.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    report(
      "missing_messages_list",
      Array.isArray(messages)
        ? '`messages` is empty; give the conversation as a list of {"role", "content"} messages'
        : `\`messages\` is ${messages === undefined ? "missing" : describeType(messages)}; each line needs "messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]`,
    );
    return;
  }
  for (const key of Object.keys(example)) {
    if (!RECOGNIZED_CHAT_KEYS.has(key)) {
      report("unrecognized_key", `\`${key}\` is not a chat example key and will be ignored; remove it (allowed: ${[...RECOGNIZED_CHAT_KEYS].join(", ")})`);
    }
  }
  const summary = validateMessages(messages, "messages", report);
  if (!summary.hasAssistant) {
    report("example_missing_assistant_message", 'the example has no assistant message; add the reply the model should learn as {"role": "assistant", "content": "..."}');
  } else if (summary.lastRole !== "assistant") {
    report(
      "last_message_not_assistant",
      `the last message is ${JSON.stringify(summary.lastRole)}, not assistant; messages after the last assistant reply are not trained, end with the assistant turn`,
    );
  }
  if (!summary.hasSystem) report("missing_system_message", "the example has no system message; add one if your prompts at inference time have one");
  if (!summary.hasUser) report("missing_user_message", "the example has no user message; add the user turn the assistant answers");
}
