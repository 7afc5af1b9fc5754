import { createHash } from "node:crypto";
import { TunekitError } from "../../core/errors.js";
import { parseColumnMapping, type ColumnMapping } from "../../data/convert/column-mapping.js";
import { convertAlpacaRecord, convertMappedRecord, convertSharegptRecord, type RecordConversion } from "../../data/convert/convert-record.js";
import { CONVERT_SOURCE_FORMATS, isConvertSourceFormat, sourceFormatFromPath, type ConvertSourceFormat } from "../../data/convert/source-format.js";
import { openRecords, recordFormatFromPath, sniffJsonContainer, type RecordFileFormat } from "../../data/read-records.js";
import { severityOf } from "../../data/validate/problem-codes.js";
import { validateLine } from "../../data/validate/validate-line.js";
import type { ChatMessage } from "../../spec/dataset.js";
import type { TeacherMessage } from "./teacher-client.js";

/**
 * The prompts of `tunekit data distill`, read with the data room's readers and converters (the
 * same ones `tunekit data convert` uses): chat rows `{"messages": [...]}` whose last assistant turn,
 * if any, is dropped (the teacher's answer replaces it); `{"prompt": ...}` / `{"user": ...}` rows
 * (an old `completion` is ignored) with an optional `system`; CSV/TSV/JSON/Parquet records with
 * the same column names or `--map column=user|system`; Alpaca and ShareGPT with `--from`.
 * Every prompt is checked by the toolkit's line validator as the row it will become (with a
 * stand-in answer), so a prompt that could only make an invalid row is refused before any request.
 */
export interface DistillPrompt {
  /** 1-based record number: the prompt's identity across runs */
  row: number;
  /** 1-based line where the record starts (CSV, TSV, JSONL) */
  line?: number;
  /** the messages of the output row before the answer (as in the source, weights kept) */
  messages: ChatMessage[];
  tools?: unknown[];
  parallel_tool_calls?: boolean;
  /** what is sent to the teacher */
  request: TeacherMessage[];
  /** hash of what is sent: a prompt edited between runs is caught on resume */
  hash: string;
}

export interface PromptProblem {
  row: number;
  line?: number;
  code: string;
  /** what is wrong (the reader's own messages already say the line: "line 3 is not valid JSON") */
  message: string;
  fix: string;
}

export type PromptRecord = { prompt: DistillPrompt; problem?: undefined } | { prompt?: undefined; problem: PromptProblem };

export interface PromptSourceOptions {
  file: string;
  /** source format; default from the extension (`.json` is sniffed: array or JSON Lines) */
  from?: string;
  /** `column=field` entries, field `user` (alias `prompt`) or `system` */
  map?: readonly string[];
  /** system message for prompts that have none */
  system?: string;
}

export interface PromptSource {
  from: ConvertSourceFormat;
  container: RecordFileFormat;
  mapping: ColumnMapping | null;
  /** a fresh pass over the file's prompts, in file order */
  read(): AsyncGenerator<PromptRecord>;
}

/** the assistant message distill fills in: a stand-in while the prompt is checked */
const ANSWER_COLUMN = "\u0000tunekit_distill_answer";
const STAND_IN_ANSWER = "(the teacher's answer)";
const TABULAR: ReadonlySet<ConvertSourceFormat> = new Set(["csv", "tsv", "json", "jsonl", "parquet"]);
/** message keys sent to the teacher; `weight` and others are training-only */
const REQUEST_KEYS = ["role", "content", "name", "tool_calls", "tool_call_id"] as const;

export async function openPromptSource(options: PromptSourceOptions): Promise<PromptSource> {
  let from: ConvertSourceFormat;
  if (options.from !== undefined) {
    if (!isConvertSourceFormat(options.from)) {
      throw new TunekitError(`\`--from\` must be one of ${CONVERT_SOURCE_FORMATS.join(", ")}; got \`${options.from}\``, {
        kind: "usage",
        code: "invalid_from",
        field: "--from",
        fix: "pass e.g. --from jsonl, or leave it out to go by the file's extension",
      });
    }
    from = options.from;
  } else {
    const byExtension = sourceFormatFromPath(options.file);
    if (byExtension === null) {
      throw new TunekitError(`cannot tell the format of \`${options.file}\` from its extension`, {
        kind: "usage",
        code: "unknown_source_format",
        field: "--from",
        file: options.file,
        fix: `pass --from with one of ${CONVERT_SOURCE_FORMATS.join(", ")}`,
      });
    }
    from = byExtension === "json" ? await sniffJsonContainer(options.file).catch(() => "json" as const) : byExtension;
  }
  const mapping = parseDistillMapping(options.map ?? [], from);
  const container: RecordFileFormat = TABULAR.has(from) ? (from as RecordFileFormat) : await containerOf(options.file);
  const columns = mapping === null ? undefined : [...mapping.system, ...mapping.user];
  // open once now: a missing file, a broken CSV header or a mapped column the file lacks fails here, once
  const first = await openRecords(options.file, container, columns === undefined ? {} : { columns });
  if (first.columns !== null && TABULAR.has(from)) checkHeader(options.file, first.columns, mapping);
  const convert: (value: unknown) => RecordConversion =
    from === "alpaca"
      ? (value) => convertAlpacaRecord(isObject(value) ? { ...value, output: STAND_IN_ANSWER } : value)
      : from === "sharegpt"
        ? (value) =>
            convertSharegptRecord(
              isObject(value) && Array.isArray(value.conversations) ? { ...value, conversations: [...value.conversations, { from: "gpt", value: STAND_IN_ANSWER }] } : value,
            )
        : (value) => convertTabular(value, mapping);
  let opened: typeof first | null = first;
  return {
    from,
    container,
    mapping,
    async *read() {
      const reader = opened ?? (await openRecords(options.file, container, columns === undefined ? {} : { columns }));
      opened = null;
      for await (const record of reader.records) {
        const position = { row: record.row, ...(record.line !== undefined && { line: record.line }) };
        if (record.problem !== undefined) {
          yield { problem: { ...position, ...record.problem } };
          continue;
        }
        yield toPrompt(convert(record.value), position, options.system);
      }
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

async function containerOf(file: string): Promise<RecordFileFormat> {
  const byExtension = recordFormatFromPath(file);
  if (byExtension === null || byExtension === "json") return sniffJsonContainer(file);
  return byExtension;
}

/** `--map` for prompts: user and system only (the teacher writes the assistant message). */
function parseDistillMapping(entries: readonly string[], from: ConvertSourceFormat): ColumnMapping | null {
  if (entries.length === 0) return null;
  if (!TABULAR.has(from)) {
    throw new TunekitError(`\`--map\` does not apply to --from ${from}: ${from} records name their own roles`, {
      kind: "usage",
      code: "map_not_applicable",
      field: "--map",
      fix: "drop --map",
    });
  }
  for (const entry of entries) {
    const field = entry
      .slice(entry.lastIndexOf("=") + 1)
      .trim()
      .toLowerCase();
    if (field === "assistant" || field === "completion") {
      throw new TunekitError(`\`--map ${entry}\` maps a column to the answer; distill's answers come from the teacher`, {
        kind: "usage",
        code: "answer_mapped",
        field: "--map",
        fix: "map only the prompt: --map <column>=user (and --map <column>=system); other columns are ignored",
      });
    }
  }
  const mapping = parseColumnMapping([...entries, `${ANSWER_COLUMN}=assistant`]) as ColumnMapping;
  return mapping;
}

/** A CSV header or Parquet schema without the prompt's columns fails every row: say so once. */
function checkHeader(file: string, columns: readonly string[], mapping: ColumnMapping | null): void {
  const available = columns.length > 0 ? columns.map((column) => `\`${column}\``).join(", ") : "none";
  if (mapping !== null) {
    const missing = [...mapping.system, ...mapping.user].filter((column) => !columns.includes(column));
    if (missing.length === 0) return;
    throw new TunekitError(`\`--map\` names ${missing.map((column) => `\`${column}\``).join(", ")}, not in the columns of \`${file}\``, {
      kind: "usage",
      code: "unknown_column",
      field: "--map",
      file,
      fix: `map columns the file has: ${available}`,
    });
  }
  if (columns.includes("messages") || columns.includes("prompt") || columns.includes("user")) return;
  throw new TunekitError(`\`${file}\` has no column for the prompt (columns: ${available})`, {
    kind: "usage",
    code: "unmapped_field",
    field: "--map",
    file,
    fix: `name a \`prompt\` column, or say which column holds it: --map ${columns[0] ?? "question"}=user`,
  });
}

/** A tabular/JSON record: `messages` as they are, else the prompt columns (named, or mapped). */
function convertTabular(value: unknown, mapping: ColumnMapping | null): RecordConversion {
  if (mapping === null && isObject(value) && "messages" in value) return convertMappedRecord(value, null);
  if (!isObject(value)) return convertMappedRecord(value, mapping);
  const columns: ColumnMapping = mapping ?? {
    system: "system" in value ? ["system"] : [],
    user: ["prompt", "user"].filter((name) => name in value).slice(0, 1),
    assistant: [ANSWER_COLUMN],
  };
  const result = convertMappedRecord({ ...value, [ANSWER_COLUMN]: STAND_IN_ANSWER }, columns);
  if (result.problems === undefined) return result;
  // the stand-in column is ours: keep it out of the "(it has ...)" lists of the messages
  const hide = (message: string): string => message.replaceAll(`, \`${ANSWER_COLUMN}\``, "").replaceAll(`\`${ANSWER_COLUMN}\``, "no other columns");
  return { problems: result.problems.map((problem) => ({ ...problem, message: hide(problem.message) })) };
}

function toPrompt(conversion: RecordConversion, position: { row: number; line?: number }, system: string | undefined): PromptRecord {
  if (conversion.problems !== undefined) {
    const first = conversion.problems[0];
    return {
      problem: {
        ...position,
        code: first?.code ?? "invalid_prompt",
        message: conversion.problems.map((problem) => problem.message).join("; "),
        fix: first?.fix ?? "fix the prompt",
      },
    };
  }
  const example = conversion.example as unknown as Record<string, unknown>;
  let messages = [...(example.messages as ChatMessage[])];
  // the stand-in answer of converted records, then the source's own last answer: the teacher replaces it
  const last = messages.at(-1) as unknown as Record<string, unknown> | undefined;
  if (last?.content === STAND_IN_ANSWER && last.role === "assistant") messages = messages.slice(0, -1);
  if ((messages.at(-1) as unknown as Record<string, unknown> | undefined)?.role === "assistant") messages = messages.slice(0, -1);
  if (system !== undefined && system !== "" && !messages.some((message) => isObject(message) && message.role === "system")) {
    messages = [{ role: "system", content: system }, ...messages];
  }
  if (messages.length === 0) {
    return {
      problem: {
        ...position,
        code: "empty_prompt",
        message: "no message is left to send once the last assistant turn is dropped",
        fix: "give the row a user message before the assistant's",
      },
    };
  }
  const row: Record<string, unknown> = { messages: [...messages, { role: "assistant", content: STAND_IN_ANSWER }] };
  if (example.tools !== undefined) row.tools = example.tools;
  if (example.parallel_tool_calls !== undefined) row.parallel_tool_calls = example.parallel_tool_calls;
  // the row it will become, checked by the toolkit's validator (warnings such as a missing system message pass)
  const checked = validateLine(JSON.stringify(row), position.line ?? position.row, { format: "chat", formatSource: "distill", fingerprints: false });
  const errors = checked.problems.filter((problem) => severityOf(problem.code) === "error");
  if (errors.length > 0) {
    return {
      problem: {
        ...position,
        code: errors[0]?.code ?? "invalid_prompt",
        message: errors.map((problem) => problem.message).join("; "),
        fix: "fix the prompt on that line (`tunekit data validate` explains each code), or remove it",
      },
    };
  }
  const request = messages.map((message) => {
    const sent: Record<string, unknown> = {};
    for (const key of REQUEST_KEYS) if ((message as unknown as Record<string, unknown>)[key] !== undefined) sent[key] = (message as unknown as Record<string, unknown>)[key];
    return sent as unknown as TeacherMessage;
  });
  const hash = createHash("sha256")
    .update(JSON.stringify({ request, tools: example.tools ?? null, parallel_tool_calls: example.parallel_tool_calls ?? null }))
    .digest("hex")
    .slice(0, 16);
  return {
    prompt: {
      ...position,
      messages,
      ...(example.tools !== undefined && { tools: example.tools as unknown[] }),
      ...(example.parallel_tool_calls !== undefined && { parallel_tool_calls: example.parallel_tool_calls as boolean }),
      request,
      hash,
    },
  };
}
