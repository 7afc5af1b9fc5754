import { TunekitError } from "../../core/errors.js";

/**
 * Which source columns fill which chat message, like Hugging Face AutoTrain's `column_mapping`
 * (`{"text_column": "review"}`) but for chat: `--map question=user --map answer=assistant`.
 * Fields: `user` (alias `prompt`), `assistant` (alias `completion`), `system`. Several columns
 * mapped to one field are joined with a blank line, in the order of the --map options.
 * A preference pair maps its two answers to `chosen` and `rejected` instead of `assistant`
 * (`--map question=user --map good=chosen --map bad=rejected`) and converts to preference JSONL.
 */
export type MessageField = "system" | "user" | "assistant";

/** the two answers of a preference pair */
export type AnswerField = "chosen" | "rejected";

export type ColumnMapping = Record<MessageField, string[]> & Partial<Record<AnswerField, string[]>>;

export const FIELD_ALIASES: Readonly<Record<string, MessageField>> = {
  system: "system",
  user: "user",
  prompt: "user",
  assistant: "assistant",
  completion: "assistant",
};

const ANSWER_FIELDS: Readonly<Record<string, AnswerField>> = { chosen: "chosen", rejected: "rejected" };

/** Columns read when no --map is given: the field names themselves (OpenAI's prompt/completion too). */
export const DEFAULT_COLUMNS: Readonly<Record<MessageField, readonly string[]>> = {
  system: ["system"],
  user: ["prompt", "user"],
  assistant: ["completion", "assistant"],
};

/** Parse `column=field` entries; every malformed entry is reported at once (usage error, exit 2). */
export function parseColumnMapping(entries: readonly string[]): ColumnMapping | null {
  if (entries.length === 0) return null;
  const mapping: ColumnMapping = { system: [], user: [], assistant: [] };
  const problems: { code: string; message: string; field: string }[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const separator = entry.lastIndexOf("=");
    const column = separator === -1 ? "" : entry.slice(0, separator).trim();
    const fieldName =
      separator === -1
        ? ""
        : entry
            .slice(separator + 1)
            .trim()
            .toLowerCase();
    if (separator === -1 || column === "" || fieldName === "") {
      problems.push({
        code: "invalid_map",
        field: "--map",
        message: `\`--map ${entry}\` is not column=field (e.g. \`--map question=user\`)`,
      });
      continue;
    }
    const field = FIELD_ALIASES[fieldName] ?? ANSWER_FIELDS[fieldName];
    if (field === undefined) {
      problems.push({
        code: "unknown_field",
        field: "--map",
        message: `\`--map ${entry}\` names the field \`${fieldName}\`; fields are ${[...Object.keys(FIELD_ALIASES), ...Object.keys(ANSWER_FIELDS)].join(", ")}`,
      });
      continue;
    }
    if (seen.has(column)) {
      problems.push({ code: "duplicate_column", field: "--map", message: `\`--map\` maps the column \`${column}\` twice` });
      continue;
    }
    seen.add(column);
    (mapping[field] ??= []).push(column);
  }
  const pair = mapping.chosen !== undefined || mapping.rejected !== undefined;
  if (problems.length === 0 && pair && mapping.assistant.length > 0) {
    problems.push({
      code: "assistant_and_pair",
      field: "--map",
      message: "`--map` maps columns to both `assistant` and `chosen`/`rejected`: a preference pair's answers are `chosen` and `rejected`",
    });
  }
  if (problems.length === 0) {
    for (const field of pair ? (["user", "chosen", "rejected"] as const) : (["user", "assistant"] as const)) {
      if ((mapping[field] ?? []).length === 0) {
        problems.push({
          code: "missing_field",
          field: "--map",
          message: `no column is mapped to \`${field}\``,
        });
      }
    }
  }
  if (problems.length > 0) {
    throw new TunekitError(problems.length === 1 ? (problems[0] as { message: string }).message : `${problems.length} problems with --map`, {
      kind: "usage",
      code: problems.length === 1 ? (problems[0] as { code: string }).code : "invalid_map",
      field: "--map",
      problems: problems.length === 1 ? [] : problems,
      fix: "pass one --map column=field per column, with a column for both user (or prompt) and assistant (or completion), e.g. --map question=user --map answer=assistant; for preference pairs map the answers to chosen and rejected, e.g. --map question=user --map good=chosen --map bad=rejected",
    });
  }
  return mapping;
}

/** Every source column a mapping reads (to read only those from Parquet). */
export function mappedColumns(mapping: ColumnMapping): string[] {
  return [...mapping.system, ...mapping.user, ...mapping.assistant, ...(mapping.chosen ?? []), ...(mapping.rejected ?? [])];
}

/** Whether the mapping makes preference pairs (chosen and rejected mapped). */
export function isPairMapping(mapping: ColumnMapping | null): boolean {
  return mapping !== null && (mapping.chosen ?? []).length > 0;
}
