import type { ChatExample, ChatMessage, PreferenceExample, Role } from "../../spec/dataset.js";
import type { ColumnMapping } from "./column-mapping.js";
import { SHAREGPT_ROLES, cellText, mappedText, type FieldProblem } from "./convert-record.js";

/**
 * Preference pairs from the layouts people download, to Tunekit's (OpenAI's DPO) preference
 * format `{"input": {"messages": [...]}, "preferred_output": [assistant], "non_preferred_output": [assistant]}`:
 *
 * - TRL standard: `prompt`, `chosen`, `rejected` as text;
 * - TRL conversational: `prompt` a message list, `chosen`/`rejected` lists holding the answer
 *   (a list that repeats the prompt first has the prompt taken off);
 * - TRL implicit prompt: no `prompt`, `chosen`/`rejected` full conversations sharing every turn
 *   but the last;
 * - LLaMA-Factory: `conversations` ([{from, value}]) or `instruction`/`input`, with `chosen` and
 *   `rejected` as a {from, value} turn or text;
 * - Tunekit's own shape, kept as it is.
 *
 * A top-level `system` (and --system) becomes the first input message when there is none.
 * An answer must be one assistant message: the format trains one reply per pair.
 */
export type PreferenceConversion = { example: PreferenceExample; problems?: undefined } | { example?: undefined; problems: FieldProblem[] };

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** One message from {role, content} or ShareGPT's {from, value}; null with a problem pushed when it is neither. */
function toMessage(value: unknown, at: string, problems: FieldProblem[]): ChatMessage | null {
  if (!isRecord(value)) {
    problems.push({
      code: "invalid_value",
      column: at,
      message: `\`${at}\` is not a message`,
      fix: 'write each message as {"role": "user", "content": "..."} (or ShareGPT\'s {"from": "human", "value": "..."})',
    });
    return null;
  }
  const from = value.role ?? value.from;
  const role: Role | undefined = typeof from === "string" ? (SHAREGPT_ROLES[from.toLowerCase()] ?? (from === "developer" ? "developer" : undefined)) : undefined;
  if (role === undefined) {
    problems.push({
      code: "unknown_role",
      column: `${at}.role`,
      message: `\`${at}\` has ${from === undefined ? "no role" : `the role \`${String(from)}\``}`,
      fix: "use the roles system, user and assistant (or ShareGPT's system, human and gpt)",
    });
    return null;
  }
  const text = cellText(value.content ?? value.value);
  if (text === null) {
    problems.push({ code: "empty_value", column: at, message: `\`${at}\` has no text`, fix: "fill in the message's text, or drop this record" });
    return null;
  }
  return { role, content: text };
}

function toMessages(value: unknown, column: string, problems: FieldProblem[]): ChatMessage[] | null {
  if (!Array.isArray(value)) return null;
  const before = problems.length;
  const messages = value.map((item, index) => toMessage(item, `${column}[${index}]`, problems));
  return problems.length > before ? null : (messages as ChatMessage[]);
}

const sameMessage = (a: ChatMessage, b: ChatMessage): boolean => a.role === b.role && a.content === b.content;

/** The prompt messages, or null (no prompt column: the implicit-prompt form). */
function promptMessages(record: Record<string, unknown>, problems: FieldProblem[]): ChatMessage[] | null | undefined {
  if (record.prompt !== undefined && record.prompt !== null) {
    if (Array.isArray(record.prompt)) return toMessages(record.prompt, "prompt", problems) ?? undefined;
    const text = cellText(record.prompt);
    if (text === null) {
      problems.push({
        code: "empty_value",
        column: "prompt",
        field: "user",
        message: "`prompt` is empty, so the pair has no question",
        fix: "fill in `prompt`, or drop this record",
      });
      return undefined;
    }
    return [{ role: "user", content: text }];
  }
  for (const column of ["conversations", "messages"] as const) {
    if (record[column] === undefined) continue;
    const messages = toMessages(record[column], column, problems);
    if (messages === null) {
      if (!Array.isArray(record[column]))
        problems.push({ code: "invalid_value", column, message: `\`${column}\` is not a list of turns`, fix: `write \`${column}\` as a list of messages` });
      return undefined;
    }
    return messages;
  }
  if ("instruction" in record || "input" in record) {
    const user = [cellText(record.instruction), cellText(record.input)].filter((part): part is string => part !== null).join("\n\n");
    if (user === "") {
      problems.push({
        code: "empty_value",
        column: "instruction",
        field: "user",
        message: "`instruction` and `input` are both empty, so the pair has no question",
        fix: "fill in `instruction`, or drop this record",
      });
      return undefined;
    }
    return [{ role: "user", content: user }];
  }
  return null;
}

/** An answer as a message list: text, one message, or a list. */
function answerMessages(value: unknown, column: "chosen" | "rejected", problems: FieldProblem[]): ChatMessage[] | undefined {
  if (value === undefined) {
    problems.push({ code: "missing_column", column, message: `the record has no \`${column}\` answer`, fix: `add \`${column}\`, or drop this record` });
    return undefined;
  }
  if (Array.isArray(value)) return toMessages(value, column, problems) ?? undefined;
  if (isRecord(value)) {
    const message = toMessage(value, column, problems);
    return message === null ? undefined : [message];
  }
  const text = cellText(value);
  if (text === null) {
    problems.push({ code: "empty_value", column, message: `\`${column}\` is empty`, fix: `fill in the ${column} answer, or drop this record` });
    return undefined;
  }
  return [{ role: "assistant", content: text }];
}

function oneAssistant(messages: ChatMessage[], column: string, problems: FieldProblem[]): ChatMessage | undefined {
  const [only] = messages;
  if (messages.length === 1 && only !== undefined && only.role === "assistant") return only;
  problems.push({
    code: messages.length === 1 ? "invalid_value" : "multi_turn_answer",
    column,
    message:
      messages.length === 1
        ? `\`${column}\` is a ${only?.role} message, not the assistant's answer`
        : `\`${column}\` holds ${messages.length} messages after the prompt (${messages.map((message) => message.role).join(", ")}); a preference pair compares one assistant answer`,
    fix: `make \`${column}\` the one assistant reply, and move earlier turns into the prompt`,
  });
  return undefined;
}

export function convertPreferenceRecord(value: unknown, options: { system?: string } = {}): PreferenceConversion {
  if (!isRecord(value)) {
    return {
      problems: [
        {
          code: "not_an_object",
          message: `the record is ${Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`}, not an object`,
          fix: "each record must be a JSON object with named fields",
        },
      ],
    };
  }
  if ("preferred_output" in value || "non_preferred_output" in value) {
    return { example: withSystem(value as unknown as PreferenceExample, options.system) };
  }
  const problems: FieldProblem[] = [];
  if (!("chosen" in value) && !("rejected" in value)) {
    return {
      problems: [
        {
          code: "not_a_pair",
          message: `the record has no \`chosen\` or \`rejected\` answer (it has ${
            Object.keys(value)
              .map((key) => `\`${key}\``)
              .join(", ") || "no columns"
          })`,
          fix: "preference records hold a prompt and two answers, `chosen` and `rejected`; for one answer convert to chat (--to chat)",
        },
      ],
    };
  }
  const prompt = promptMessages(value, problems);
  const chosen = answerMessages(value.chosen, "chosen", problems);
  const rejected = answerMessages(value.rejected, "rejected", problems);
  if (prompt === undefined || chosen === undefined || rejected === undefined) return { problems };
  let input: ChatMessage[];
  let chosenAnswer: ChatMessage[];
  let rejectedAnswer: ChatMessage[];
  if (prompt === null) {
    // implicit prompt: the turns both conversations share, all but the last
    let shared = 0;
    while (shared < Math.min(chosen.length, rejected.length) - 1 && sameMessage(chosen[shared] as ChatMessage, rejected[shared] as ChatMessage)) shared++;
    input = chosen.slice(0, shared);
    chosenAnswer = chosen.slice(shared);
    rejectedAnswer = rejected.slice(shared);
    if (input.length === 0) {
      problems.push({
        code: "missing_column",
        column: "prompt",
        field: "user",
        message: "the record has no `prompt`, and `chosen` and `rejected` share no first turns to take it from",
        fix: "add `prompt` (text or a message list), or start both conversations with the same user turn",
      });
      return { problems };
    }
  } else {
    input = prompt;
    const strip = (answer: ChatMessage[]): ChatMessage[] =>
      answer.length > input.length && input.every((message, index) => sameMessage(message, answer[index] as ChatMessage)) ? answer.slice(input.length) : answer;
    chosenAnswer = strip(chosen);
    rejectedAnswer = strip(rejected);
  }
  const preferred = oneAssistant(chosenAnswer, "chosen", problems);
  const nonPreferred = oneAssistant(rejectedAnswer, "rejected", problems);
  if (!input.some((message) => message.role === "user")) {
    problems.push({
      code: "missing_user_message",
      column: "prompt",
      field: "user",
      message: "the prompt has no user message",
      fix: "give the question both answers reply to as a user message",
    });
  }
  if (problems.length > 0 || preferred === undefined || nonPreferred === undefined) return { problems };
  const system = cellText(value.system);
  const example: PreferenceExample = {
    input: { messages: prependSystem(prependSystem(input, system ?? undefined), options.system) },
    preferred_output: [preferred],
    non_preferred_output: [nonPreferred],
  };
  return { example };
}

function prependSystem(messages: ChatMessage[], system: string | undefined): ChatMessage[] {
  if (system === undefined || system === "" || messages.some((message) => message.role === "system")) return messages;
  return [{ role: "system", content: system }, ...messages];
}

function withSystem(example: PreferenceExample, system: string | undefined): PreferenceExample {
  if (system === undefined || !isRecord(example.input) || !Array.isArray(example.input.messages)) return example;
  return { ...example, input: { ...example.input, messages: prependSystem(example.input.messages, system) } };
}

/** A preference pair as chat: the prompt and the chosen answer (supervised fine-tuning on the preferred replies). */
export function preferenceToChat(example: PreferenceExample): ChatExample {
  const input = Array.isArray(example.input?.messages) ? example.input.messages : [];
  return { messages: [...input, ...(Array.isArray(example.preferred_output) ? example.preferred_output : [])] };
}

/**
 * A row of a table whose columns are mapped with `--map q=user --map good=chosen --map bad=rejected`
 * (several columns to one field are joined with a blank line, as for chat).
 */
export function convertMappedPair(value: unknown, mapping: ColumnMapping, options: { system?: string } = {}): PreferenceConversion {
  if (!isRecord(value)) return convertPreferenceRecord(value);
  const problems: FieldProblem[] = [];
  const texts: Partial<Record<"system" | "user" | "chosen" | "rejected", string>> = {};
  for (const field of ["system", "user", "chosen", "rejected"] as const) {
    const columns = mapping[field] ?? [];
    const text = mappedText(value, columns, field, problems);
    if (text !== null) texts[field] = text;
    else if (field !== "system" && columns.every((column) => column in value)) {
      const named = columns.map((column) => `\`${column}\``).join(", ");
      problems.push({
        code: "empty_value",
        column: columns[0],
        message: `${named} ${columns.length > 1 ? "are" : "is"} empty, so the pair has no ${field === "user" ? "question" : `${field} answer`}`,
        fix: `fill in ${named}, or drop this row`,
      });
    }
  }
  if (problems.length > 0) return { problems };
  const input: ChatMessage[] = [];
  if (texts.system !== undefined) input.push({ role: "system", content: texts.system });
  input.push({ role: "user", content: texts.user as string });
  return {
    example: {
      input: { messages: prependSystem(input, options.system) },
      preferred_output: [{ role: "assistant", content: texts.chosen as string }],
      non_preferred_output: [{ role: "assistant", content: texts.rejected as string }],
    },
  };
}
