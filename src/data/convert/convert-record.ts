import type { ChatExample, ChatMessage, Role } from "../../spec/dataset.js";
import { DEFAULT_COLUMNS, type ColumnMapping, type MessageField } from "./column-mapping.js";

/**
 * Converts one source record to a chat example, or says why it cannot: each problem names the
 * column (or `conversations[i].from`) and the fix. The caller adds where the record is (line/row).
 */
export interface FieldProblem {
  code: string;
  /** the source column the problem is in, e.g. `answer`, `output`, `conversations[2].from` */
  column?: string;
  /** the chat field the column feeds: system, user or assistant */
  field?: MessageField;
  message: string;
  fix: string;
}

export type RecordConversion = { example: ChatExample; problems?: undefined } | { example?: undefined; problems: FieldProblem[] };

export interface RecordConvertOptions {
  /** system message added to every example that has none of its own */
  system?: string;
}

const FIELD_ORDER: readonly MessageField[] = ["system", "user", "assistant"];

/** Text of one cell: strings as they are, numbers and booleans spelled out, lists and objects as JSON; null when empty. */
export function cellText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value.trim() === "" ? null : value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function notAnObject(value: unknown): FieldProblem {
  return {
    code: "not_an_object",
    message: `the record is ${Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`}, not an object`,
    fix: "each record must be a JSON object with named fields",
  };
}

function withSystem(messages: ChatMessage[], system: string | undefined): ChatMessage[] {
  if (system === undefined || system === "" || messages.some((message) => message.role === "system")) return messages;
  return [{ role: "system", content: system }, ...messages];
}

/** Hint for records that look like another layout than the one asked for. */
function layoutHint(record: Record<string, unknown>): string {
  if ("chosen" in record && "rejected" in record) return "; this looks like preference pairs: use --from preference";
  if ("instruction" in record && "output" in record) return "; this looks like Alpaca data: use --from alpaca";
  if ("conversations" in record) return "; this looks like ShareGPT data: use --from sharegpt";
  return "";
}

/**
 * A record of a csv/tsv/json/jsonl/parquet file. With a mapping, the mapped columns fill the
 * messages; without one, the columns named like the fields (prompt/user, completion/assistant,
 * system) do, and a record that already has `messages` is kept as it is.
 */
export function convertMappedRecord(value: unknown, mapping: ColumnMapping | null, options: RecordConvertOptions = {}): RecordConversion {
  if (!isRecord(value)) return { problems: [notAnObject(value)] };
  if (mapping === null && "messages" in value) {
    if (!Array.isArray(value.messages)) {
      return {
        problems: [{ code: "invalid_value", column: "messages", message: "`messages` is not a list of messages", fix: "write `messages` as a list of {role, content} objects" }],
      };
    }
    const example = { ...value, messages: withSystem(value.messages as ChatMessage[], options.system) } as ChatExample;
    return { example };
  }
  const columns = mapping ?? resolveDefaultColumns(value);
  const problems: FieldProblem[] = [];
  const texts: Partial<Record<MessageField, string>> = {};
  for (const field of FIELD_ORDER) {
    const fieldColumns = columns[field];
    if (fieldColumns.length === 0) {
      if (field === "system") continue;
      const names = DEFAULT_COLUMNS[field].map((name) => `\`${name}\``).join(" or ");
      problems.push({
        code: "unmapped_field",
        field,
        // the layout hint once per record, not once per field
        message: `no column feeds the ${field} message: the record has no ${names} column (it has ${describeKeys(value)})${problems.some((problem) => problem.code === "unmapped_field") ? "" : layoutHint(value)}`,
        fix: `map a column to it, e.g. --map <column>=${field}`,
      });
      continue;
    }
    const text = mappedText(value, fieldColumns, field, problems, field);
    if (text !== null) texts[field] = text;
    else if (field !== "system" && !problems.some((problem) => problem.field === field)) {
      const named = fieldColumns.map((column) => `\`${column}\``).join(", ");
      problems.push({
        code: "empty_value",
        column: fieldColumns[0],
        field,
        message: `${fieldColumns.length > 1 ? `the columns ${named} are` : `the column ${named} is`} empty, so the example has no ${field} message`,
        fix: `fill in ${named}, or drop this row`,
      });
    }
  }
  if (problems.length > 0) return { problems };
  const messages: ChatMessage[] = [];
  if (texts.system !== undefined) messages.push({ role: "system", content: texts.system });
  messages.push({ role: "user", content: texts.user as string }, { role: "assistant", content: texts.assistant as string });
  return { example: { messages: withSystem(messages, options.system) } };
}

function resolveDefaultColumns(record: Record<string, unknown>): ColumnMapping {
  const pick = (field: MessageField): string[] => {
    const found = DEFAULT_COLUMNS[field].find((name) => name in record);
    return found === undefined ? [] : [found];
  };
  return { system: pick("system"), user: pick("user"), assistant: pick("assistant") };
}

export function describeKeys(record: Record<string, unknown>): string {
  const keys = Object.keys(record);
  if (keys.length === 0) return "no columns";
  const shown = keys.slice(0, 8).map((key) => `\`${key}\``);
  return `${shown.join(", ")}${keys.length > 8 ? `, … (${keys.length} in all)` : ""}`;
}

/**
 * Alpaca (`instruction`, `input`, `output`, optional `system` and LLaMA-Factory's `history` of
 * [instruction, response] pairs). The user message is the instruction, then a blank line, then
 * the input when there is one: the same order and separation as the Alpaca prompt template's
 * "### Instruction:" and "### Input:" sections, without the template's headings (the chat
 * template of the model replaces them).
 */
export function convertAlpacaRecord(value: unknown, options: RecordConvertOptions = {}): RecordConversion {
  if (!isRecord(value)) return { problems: [notAnObject(value)] };
  const problems: FieldProblem[] = [];
  const instruction = cellText(value.instruction);
  const input = cellText(value.input);
  const output = cellText(value.output);
  if (!("instruction" in value) && !("output" in value)) {
    return {
      problems: [
        {
          code: "not_alpaca",
          message: `the record has no \`instruction\` or \`output\` (it has ${describeKeys(value)})`,
          fix: "Alpaca records hold instruction, input and output; for other columns use --from with the file's type and --map",
        },
      ],
    };
  }
  if (instruction === null && input === null) {
    problems.push({
      code: "empty_value",
      column: "instruction",
      field: "user",
      message: "`instruction` and `input` are both empty, so the example has no user message",
      fix: "fill in `instruction`, or drop this record",
    });
  }
  if (output === null) {
    problems.push({
      code: "output" in value ? "empty_value" : "missing_column",
      column: "output",
      field: "assistant",
      message: "output" in value ? "`output` is empty, so the example has nothing to train on" : "the record has no `output`",
      fix: "fill in `output` with the response, or drop this record",
    });
  }
  const messages: ChatMessage[] = [];
  const system = cellText(value.system);
  if (system !== null) messages.push({ role: "system", content: system });
  if (value.history !== undefined && value.history !== null) {
    const history = value.history;
    const valid = Array.isArray(history) && history.every((pair) => Array.isArray(pair) && pair.length === 2 && cellText(pair[0]) !== null && cellText(pair[1]) !== null);
    if (!valid) {
      problems.push({
        code: "invalid_value",
        column: "history",
        message: "`history` is not a list of [instruction, response] pairs of text",
        fix: 'write `history` as [["earlier question", "earlier answer"], ...], or remove it',
      });
    } else {
      for (const pair of history as unknown[][]) {
        messages.push({ role: "user", content: cellText(pair[0]) as string }, { role: "assistant", content: cellText(pair[1]) as string });
      }
    }
  }
  if (problems.length > 0) return { problems };
  const user = [instruction, input].filter((part): part is string => part !== null).join("\n\n");
  messages.push({ role: "user", content: user }, { role: "assistant", content: output as string });
  return { example: { messages: withSystem(messages, options.system) } };
}

/** ShareGPT `from` values and the chat roles they become. */
export const SHAREGPT_ROLES: Readonly<Record<string, Role>> = {
  human: "user",
  user: "user",
  gpt: "assistant",
  assistant: "assistant",
  chatgpt: "assistant",
  model: "assistant",
  bard: "assistant",
  bing: "assistant",
  system: "system",
  tool: "tool",
  observation: "tool",
  function_response: "tool",
};

/**
 * ShareGPT: `conversations: [{from, value}]` (role/content keys also accepted), optional top-level
 * `system`. `from` maps by SHAREGPT_ROLES; `function_call` turns are refused because OpenAI's
 * chat format needs structured `tool_calls` that ShareGPT text does not carry.
 */
export function convertSharegptRecord(value: unknown, options: RecordConvertOptions = {}): RecordConversion {
  if (!isRecord(value)) return { problems: [notAnObject(value)] };
  const conversations = value.conversations;
  if (!Array.isArray(conversations)) {
    const hint = "messages" in value ? "; this record is already in chat format: use --from jsonl (or json)" : "";
    return {
      problems: [
        {
          code: conversations === undefined ? "missing_column" : "invalid_value",
          column: "conversations",
          message: conversations === undefined ? `the record has no \`conversations\` (it has ${describeKeys(value)})${hint}` : "`conversations` is not a list of turns",
          fix: 'ShareGPT records hold `conversations: [{"from": "human", "value": "..."}, {"from": "gpt", "value": "..."}]`',
        },
      ],
    };
  }
  const problems: FieldProblem[] = [];
  const messages: ChatMessage[] = [];
  conversations.forEach((turn, index) => {
    const at = `conversations[${index}]`;
    if (!isRecord(turn)) {
      problems.push({ code: "invalid_value", column: at, message: `\`${at}\` is not an object`, fix: 'write each turn as {"from": "human", "value": "..."}' });
      return;
    }
    const from = turn.from ?? turn.role;
    const role = typeof from === "string" ? SHAREGPT_ROLES[from.toLowerCase()] : undefined;
    if (role === undefined) {
      const functionCall = from === "function_call";
      problems.push({
        code: functionCall ? "unsupported_turn" : "unknown_role",
        column: `${at}.from`,
        message: functionCall
          ? `\`${at}.from\` is \`function_call\`, which has no faithful chat equivalent here (OpenAI needs structured tool_calls)`
          : `\`${at}.from\` is ${from === undefined ? "missing" : `\`${String(from)}\`, not a ShareGPT role`}`,
        fix: functionCall ? "write this example in chat format by hand with assistant `tool_calls`, or drop it" : `use one of ${Object.keys(SHAREGPT_ROLES).join(", ")}`,
      });
      return;
    }
    const text = cellText(turn.value ?? turn.content);
    if (text === null) {
      problems.push({
        code: "empty_value",
        column: `${at}.value`,
        field: role === "tool" ? undefined : (role as MessageField),
        message: `\`${at}.value\` is empty`,
        fix: "fill in the turn's text, or remove the turn",
      });
      return;
    }
    messages.push({ role, content: text });
  });
  if (problems.length === 0 && !messages.some((message) => message.role === "assistant")) {
    problems.push({
      code: "no_assistant_turn",
      column: "conversations",
      field: "assistant",
      message: "the conversation has no gpt/assistant turn, so there is nothing to train on",
      fix: 'add the assistant\'s answer as a {"from": "gpt"} turn, or drop this record',
    });
  }
  if (problems.length > 0) return { problems };
  const system = cellText(value.system);
  return { example: { messages: withSystem(withSystem(messages, system ?? undefined), options.system) } };
}

/**
 * The text of the columns mapped to one field, joined by a blank line; null when none has text. A
 * mapped column the record lacks is a `missing_column` problem (the record's keys are named).
 */
export function mappedText(value: Record<string, unknown>, columns: readonly string[], label: string, problems: FieldProblem[], field?: MessageField): string | null {
  const parts: string[] = [];
  for (const column of columns) {
    if (!(column in value)) {
      problems.push({
        code: "missing_column",
        column,
        ...(field !== undefined && { field }),
        message: `the column \`${column}\` (mapped to ${label}) is missing (the record has ${describeKeys(value)})`,
        fix: `add \`${column}\` to this record, or fix the --map option that names it`,
      });
      continue;
    }
    const text = cellText(value[column]);
    if (text !== null) parts.push(text);
  }
  return parts.length > 0 ? parts.join("\n\n") : null;
}
