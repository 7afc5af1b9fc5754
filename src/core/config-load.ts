import { existsSync, readFileSync } from "node:fs";
import { inputFileError } from "./input-file.js";
import { dirname, isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument, stringify, type YAMLError } from "yaml";
import { z } from "zod";
import { configSchema, type TunekitConfig } from "./config-schema.js";
import { TunekitError, type ProblemDetail } from "./errors.js";

export interface LoadedConfig {
  config: TunekitConfig;
  /** absolute path of the YAML file, or null when only defaults and overrides were used */
  path: string | null;
  /** folder relative paths in the config are resolved against */
  baseDir: string;
  /** the line of a field in the file (undefined for defaults and `--set` values) */
  lineOf?: (path: readonly PropertyKey[]) => number | undefined;
}

/**
 * Parse `a.b.c=value` into a path and a typed value (YAML scalar rules: 3 -> number, true -> boolean,
 * `[a, b]` -> a list). `applyOverrides` then fits the value to the field: a field that holds text
 * keeps `2024` as the text "2024", and a list field takes `a,b` as the list [a, b].
 */
export function parseOverride(assignment: string): { path: string[]; value: unknown; raw: string } {
  const equals = assignment.indexOf("=");
  if (equals <= 0) {
    throw new TunekitError(`\`--set ${assignment}\` is not of the form key.path=value`, {
      kind: "usage",
      code: "bad_override",
      field: "--set",
      fix: "write it as `--set training.epochs=3` (a list: `--set 'training.lora.target_modules=[q_proj, v_proj]'`)",
    });
  }
  const key = assignment.slice(0, equals).trim();
  const raw = assignment.slice(equals + 1);
  const path = key.split(".");
  if (path.some((segment) => segment === "")) {
    throw new TunekitError(`\`--set ${assignment}\`: \`${key}\` is not a field path`, {
      kind: "usage",
      code: "bad_override",
      field: "--set",
      fix: "name the field with dots between its sections, e.g. `--set training.lora.r=8`",
    });
  }
  if (raw === "") return { path, value: "", raw };
  const document = parseDocument(raw);
  if (document.errors.length > 0) {
    const opened = /^\s*[[{]/.test(raw);
    throw new TunekitError(
      `\`--set ${assignment}\`: the value \`${raw}\` cannot be read (${document.errors[0]!.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")})`,
      {
        kind: "usage",
        code: "bad_override",
        field: "--set",
        fix: opened
          ? `close the list and quote it for the shell: \`--set '${key}=[a, b]'\``
          : `quote the value as YAML text, and the whole flag for the shell: \`--set '${key}="${raw.replace(/"/g, '\\"')}"'\``,
      },
    );
  }
  return { path, value: document.toJS(), raw };
}

/** The value an override stores: the YAML-typed value, or the raw text / comma list when that is what the field takes. */
function fitOverride(path: readonly string[], value: unknown, raw: string): unknown {
  const schema = fieldSchemaAt(path);
  if (!schema || schema.safeParse(value).success) return value;
  const list = /^\s*\[/.test(raw)
    ? undefined
    : raw
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
  const fits = [raw, list].find((candidate) => candidate !== undefined && schema.safeParse(candidate).success);
  if (fits !== undefined) return fits;
  // `a,b` for a list field stays a list, so that the error names the item that is wrong
  if (list !== undefined && acceptsType(schema, "array")) return list;
  return value;
}

export function applyOverrides(target: Record<string, unknown>, assignments: readonly string[]): Record<string, unknown> {
  for (const assignment of assignments) {
    const { path, value, raw } = parseOverride(assignment);
    let node: Record<string, unknown> = target;
    for (const segment of path.slice(0, -1)) {
      const next = node[segment];
      if (next === undefined || next === null || typeof next !== "object" || Array.isArray(next)) {
        node[segment] = {};
      }
      node = node[segment] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = fitOverride(path, value, raw);
  }
  return target;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** Keys that the schema accepts at `path` (for "did you mean" hints). */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = configSchema;
  for (const segment of path) {
    const shape = objectShape(schema);
    if (!shape || typeof segment !== "string" || !(segment in shape)) return [];
    schema = shape[segment]!;
  }
  const shape = objectShape(schema);
  return shape ? Object.keys(shape) : [];
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let current: z.ZodType = schema;
  // unwrap default/prefault/optional/nullable wrappers
  for (let depth = 0; depth < 8; depth++) {
    if (current instanceof z.ZodObject) return current.shape as Record<string, z.ZodType>;
    const inner = (current as unknown as { _zod: { def: { innerType?: z.ZodType } } })._zod.def.innerType;
    if (!inner) return undefined;
    current = inner;
  }
  return undefined;
}

type Schema = z.ZodType;
type Def = {
  type?: string;
  innerType?: Schema;
  element?: Schema;
  options?: Schema[];
  values?: unknown[];
  entries?: Record<string, unknown>;
  checks?: Array<{ _zod: { def: Record<string, unknown> } }>;
};
const defOf = (schema: Schema): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schema of the field at `path` (array items by index), with its default/nullable wrappers; undefined when there is none. */
export function fieldSchemaAt(path: readonly PropertyKey[]): Schema | undefined {
  let schema: Schema = configSchema;
  for (const segment of path) {
    if (typeof segment === "number" || (typeof segment === "string" && /^\d+$/.test(segment))) {
      const { inner } = unwrapField(schema);
      const element = defOf(inner).type === "array" ? defOf(inner).element : undefined;
      if (!element) return undefined;
      schema = element;
      continue;
    }
    const shape = objectShape(schema);
    if (!shape || typeof segment !== "string" || !(segment in shape)) return undefined;
    schema = shape[segment]!;
  }
  return schema;
}

/** Strip default/prefault/optional/nullable wrappers: the type a value must have, and whether null is allowed. */
function unwrapField(schema: Schema): { inner: Schema; nullable: boolean } {
  let current = schema;
  let nullable = false;
  for (let depth = 0; depth < 8; depth++) {
    const def = defOf(current);
    if (def.type === "nullable") nullable = true;
    if (!def.innerType || !["default", "prefault", "optional", "nullable", "readonly", "catch"].includes(def.type ?? "")) break;
    current = def.innerType;
  }
  return { inner: current, nullable };
}

function numberRange(schema: Schema): string {
  let integer = false;
  let low: { value: number; inclusive: boolean } | undefined;
  let high: { value: number; inclusive: boolean } | undefined;
  for (const check of defOf(schema).checks ?? []) {
    const def = check._zod.def;
    if (def.check === "number_format" && (def.format === "safeint" || def.format === "int32")) integer = true;
    if (def.check === "greater_than") low = { value: def.value as number, inclusive: Boolean(def.inclusive) };
    if (def.check === "less_than") high = { value: def.value as number, inclusive: Boolean(def.inclusive) };
  }
  const noun = integer ? "a whole number" : "a number";
  if (low && high && low.inclusive && high.inclusive) return `${noun} from ${low.value} to ${high.value}`;
  const parts = [low && (low.inclusive ? `at least ${low.value}` : `above ${low.value}`), high && (high.inclusive ? `at most ${high.value}` : `below ${high.value}`)].filter(
    Boolean,
  );
  return parts.length > 0 ? `${noun} ${parts.join(" and ")}` : noun;
}

/** What a field takes, in words: "a whole number from 1 to 100", "`auto` or a number above 0", "one of `a`, `b`". */
export function expectedValue(schema: Schema): string {
  const { inner, nullable } = unwrapField(schema);
  const def = defOf(inner);
  let text: string;
  switch (def.type) {
    case "union":
      text = (def.options ?? []).map(expectedValue).join(" or ");
      break;
    case "literal":
      text = (def.values ?? []).map((value) => `\`${String(value)}\``).join(" or ");
      break;
    case "enum":
      text = `one of ${Object.values(def.entries ?? {})
        .map((value) => `\`${String(value)}\``)
        .join(", ")}`;
      break;
    case "number":
      text = numberRange(inner);
      break;
    case "boolean":
      text = "`true` or `false`";
      break;
    case "string": {
      const max = (def.checks ?? []).map((check) => check._zod.def).find((check) => check.check === "max_length");
      text = max ? `text of at most ${String(max.maximum)} characters` : "text";
      break;
    }
    case "array":
      text = `a list of ${def.element ? expectedValue(def.element).replace(/^one of /, "values from ") : "values"}`;
      break;
    case "object":
      text = "a section of fields";
      break;
    default:
      text = "a value";
  }
  return nullable ? `${text}, or \`null\`` : text;
}

/** A number the field accepts, for examples: its default, else its lower bound, else a small sensible value. */
function numberExample(schema: Schema, example: unknown): number {
  const options = defOf(unwrapField(schema).inner).type === "union" ? (defOf(unwrapField(schema).inner).options ?? []) : [schema];
  const checks = options.flatMap((option) => defOf(unwrapField(option).inner).checks ?? []).map((check) => check._zod.def);
  const low = checks.find((check) => check.check === "greater_than");
  const high = checks.find((check) => check.check === "less_than");
  const candidates = [example, low?.inclusive ? low.value : undefined, typeof high?.value === "number" && high.value <= 1 ? 0.0001 : undefined, 1, 0.5, 16, 100];
  return (candidates.find((candidate) => typeof candidate === "number" && schema.safeParse(candidate).success) as number | undefined) ?? 1;
}

function enumValues(schema: Schema): string[] {
  const { inner } = unwrapField(schema);
  const def = defOf(inner);
  if (def.type === "enum") return Object.values(def.entries ?? {}).map(String);
  if (def.type === "literal") return (def.values ?? []).map(String);
  if (def.type === "union") return (def.options ?? []).flatMap(enumValues);
  return [];
}

const acceptsType = (schema: Schema, type: string): boolean => {
  const { inner } = unwrapField(schema);
  const def = defOf(inner);
  return def.type === type || (def.type === "union" && (def.options ?? []).some((option) => acceptsType(option, type)));
};

function defaultOf(schema: Schema): unknown {
  const result = schema.safeParse(undefined);
  return result.success ? result.data : undefined;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let node = input;
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment as string];
  }
  return node;
}

const flow = (value: unknown): string => stringify(value, { collectionStyle: "flow", flowCollectionPadding: false, lineWidth: 0 }).trimEnd();
const shown = (value: unknown): string => (typeof value === "string" ? JSON.stringify(value) : value === undefined ? "nothing" : flow(value));
function nearest(word: string, candidates: readonly string[]): string | undefined {
  return candidates
    .map((candidate) => ({ candidate, distance: editDistance(word.toLowerCase(), candidate.toLowerCase()) }))
    .filter(({ distance }) => distance <= Math.max(2, Math.floor(word.length / 3)))
    .sort((a, b) => a.distance - b.distance)[0]?.candidate;
}

export interface ConfigProblemContext {
  /** the object that was validated, to quote the value written */
  input?: unknown;
  /** dotted paths whose value came from `--set`, with the value as typed (their fix is a flag, not a YAML line) */
  overridden?: ReadonlyMap<string, string>;
}

/** The way to write `value` at `path`: a YAML line for the file, or the flag for a `--set` value. */
function writeAs(path: readonly PropertyKey[], value: unknown, fromFlag: boolean): string {
  if (fromFlag) {
    const text = typeof value === "string" ? value : flow(value);
    const quoted = /[\s[\]{}*?$"'\\|&;<>()!#~]/.test(text) ? `'${path.join(".")}=${text}'` : `${path.join(".")}=${text}`;
    return `\`--set ${quoted}\``;
  }
  const key = path[path.length - 1];
  return typeof key === "number" ? `\`- ${flow(value)}\`` : `\`${String(key)}: ${flow(value)}\``;
}

/** One zod issue as a message that names the field and the value written, and a fix that shows how to write it. */
function describeIssue(issue: z.core.$ZodIssue, context: ConfigProblemContext): { message: string; fix: string } {
  const path = issue.path;
  const field = path.length > 0 ? path.join(".") : "(root)";
  const schema = fieldSchemaAt(path);
  const dotted = path.join(".");
  const fromFlag = [...(context.overridden?.keys() ?? [])].some((name) => name === dotted || dotted.startsWith(`${name}.`));
  const where = fromFlag ? ` (from \`--set\`)` : "";
  const value = valueAt(context.input, path);
  const expected = schema ? expectedValue(schema) : undefined;
  const fallback = schema ? defaultOf(schema) : undefined;
  const example = fallback !== undefined && fallback !== null && typeof fallback !== "object" ? fallback : undefined;
  const takes = expected ? ` \`${field}\` takes ${expected}.` : "";
  const defaultNote = example !== undefined ? ` (the default)` : "";

  // a value that is text where the field takes a list: show the list
  if (schema && typeof value === "string" && acceptsType(schema, "array")) {
    const items = value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
    const list = items.length > 0 ? items : ["..."];
    const also =
      enumValues(schema).length > 0
        ? ` (or ${enumValues(schema)
            .map((name) => `\`${name}\``)
            .join(", ")})`
        : "";
    return {
      message: `\`${field}\`${where} is a list, but ${shown(value)} is one piece of text.${takes}`,
      fix: fromFlag
        ? `write the list in brackets and quote it for the shell: ${writeAs(path, list, true)}${also}`
        : `write the list in brackets, ${writeAs(path, list, false)}, or one \`- item\` per line below \`${String(path[path.length - 1])}:\`${also}`,
    };
  }
  // a number or boolean where the field takes text: quote it
  if (schema && (typeof value === "number" || typeof value === "boolean") && acceptsType(schema, "string") && !acceptsType(schema, typeof value)) {
    const text = String(value);
    return {
      message: `\`${field}\`${where} takes text, but YAML reads ${text} as a ${typeof value}.`,
      fix: fromFlag ? `quote it as YAML text: \`--set '${field}="${text}"'\`` : `put it in quotes: ${writeAs(path, text, false)}`,
    };
  }
  if (issue.code === "invalid_type" && value === null && schema) {
    return {
      message: `\`${field}\`${where} is empty (null), but it takes ${expected}.`,
      fix:
        example !== undefined
          ? `write a value after the colon, e.g. ${writeAs(path, example, fromFlag)}${defaultNote}, or delete the line to use the default`
          : `write a value after the colon, or delete the line to use the default`,
    };
  }
  if (schema && (issue.code === "invalid_type" || issue.code === "invalid_union") && acceptsType(schema, "object") && !acceptsType(schema, typeof value)) {
    const known = knownKeysAt(path);
    return {
      message: `\`${field}\`${where} is a section of fields, but it holds ${shown(value)}.`,
      fix: `write its fields indented below \`${String(path[path.length - 1])}:\`, one per line (${known
        .slice(0, 4)
        .map((name) => `\`${name}\``)
        .join(", ")}, ...), or delete the line`,
    };
  }
  const choices = schema ? enumValues(schema) : [];
  if (schema && typeof value === "string" && acceptsType(schema, "number")) {
    const numeric = value.trim() !== "" && Number.isFinite(Number(value));
    const number = numberExample(schema, example);
    return {
      message: `\`${field}\`${where} takes ${expected}, but ${shown(value)} is text.`,
      fix: numeric
        ? fromFlag
          ? `drop the quotes: \`--set ${field}=${value}\``
          : `drop the quotes: ${writeAs(path, Number(value), false)}`
        : `write ${choices.length > 0 ? `${choices.map((name) => `\`${name}\``).join(" or ")} or ` : ""}a number without quotes, e.g. ${writeAs(path, number, fromFlag)}${number === example ? defaultNote : ""}`,
    };
  }
  if (choices.length > 0 && (issue.code === "invalid_value" || !acceptsType(schema!, "number"))) {
    const guess = typeof value === "string" ? nearest(value, choices) : undefined;
    const pick = guess ?? (typeof example === "string" && choices.includes(example) ? example : choices[0]!);
    const answer = {
      message: `\`${field}\`${where} is ${shown(value)}, which is not one of ${choices.map((name) => `\`${name}\``).join(", ")}.${guess ? ` Did you mean \`${guess}\`?` : ""}`,
      fix: `write one of them, e.g. ${writeAs(path, pick, fromFlag)}`,
    };
    const index = path[path.length - 1];
    const list = valueAt(context.input, path.slice(0, -1));
    if (typeof index === "number" && Array.isArray(list)) {
      const corrected = list.map((item, position) => (position === index ? pick : item));
      return {
        message: `\`${field}\` (item ${index + 1} of the list${fromFlag ? ", from `--set`" : ""}) is ${shown(value)}, which is not one of ${choices.map((name) => `\`${name}\``).join(", ")}.${guess ? ` Did you mean \`${guess}\`?` : ""}`,
        fix: `write ${writeAs(path.slice(0, -1), corrected, fromFlag)}`,
      };
    }
    return answer;
  }
  if (issue.code === "too_small" || issue.code === "too_big") {
    const bound = issue.code === "too_small" ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum;
    const isNumber = (issue as { origin?: string }).origin === "number";
    if (isNumber) {
      const pick = numberExample(schema!, example);
      return {
        message: `\`${field}\`${where} is ${shown(value)}, out of bounds: it takes ${expected}.`,
        fix: `write a value in range, e.g. ${writeAs(path, pick, fromFlag)}${typeof example === "number" ? defaultNote : ""}`,
      };
    }
    const origin = (issue as { origin?: string }).origin;
    const unit = origin === "string" ? "characters" : "items";
    return {
      message: `\`${field}\`${where} has ${issue.code === "too_small" ? "fewer" : "more"} ${unit} than allowed (${issue.code === "too_small" ? "at least" : "at most"} ${String(bound)}).${takes}`,
      fix:
        origin === "string"
          ? `shorten it to ${String(bound)} characters or fewer`
          : `give it ${issue.code === "too_small" ? "at least" : "at most"} ${String(bound)} item${Number(bound) === 1 ? "" : "s"}, e.g. ${writeAs(path, Array.isArray(fallback) ? fallback : ["..."], fromFlag)}`,
    };
  }
  if (issue.code === "invalid_type" || issue.code === "invalid_union") {
    return {
      message: `\`${field}\`${where} is ${shown(value)}, but it takes ${expected ?? "another kind of value"}.`,
      fix:
        example !== undefined
          ? `write it like ${writeAs(path, example, fromFlag)}${defaultNote}`
          : `write ${expected ?? "a value of the right type"}; \`tunekit config schema\` shows the field`,
    };
  }
  return {
    message: `\`${field}\`${where}: ${issue.message}.${takes}`,
    fix: example !== undefined ? `write it like ${writeAs(path, example, fromFlag)}${defaultNote}` : "`tunekit config schema` shows what the field takes",
  };
}

/** Problems sorted by line (values from `--set`, which have none, last), each with its own fix. */
function byLine(problems: ProblemDetail[]): ProblemDetail[] {
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) => (a.problem.line ?? Number.MAX_SAFE_INTEGER) - (b.problem.line ?? Number.MAX_SAFE_INTEGER) || a.index - b.index)
    .map(({ problem }) => problem);
}

/** Turn zod issues into problems that each name the path, quote the value, and say how to write it; sorted by line. */
export function configProblems(error: z.ZodError, lineOf?: (path: readonly PropertyKey[]) => number | undefined, context: ConfigProblemContext = {}): ProblemDetail[] {
  const problems: ProblemDetail[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(issue.path);
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const field = path.join(".");
        const suggestion = nearest(key, known);
        const flag = [...(context.overridden ?? new Map<string, string>())].find(([name]) => name === field || name.startsWith(`${field}.`));
        const fromFlag = flag !== undefined;
        const suggested = suggestion ? [...issue.path, suggestion].join(".") : undefined;
        problems.push({
          code: "unknown_key",
          field,
          line: lineOf?.(path),
          message:
            `\`${field}\`${fromFlag ? " (from `--set`)" : ""} is not a config field; ` +
            (suggested ? `did you mean \`${suggested}\`?` : `known here: ${known.map((name) => `\`${name}\``).join(", ")}`),
          fix: suggested
            ? flag
              ? `write \`--set ${suggested}${flag[0].slice(field.length)}=${flag[1]}\``
              : `rename it to \`${suggestion}\``
            : fromFlag
              ? "drop the `--set` flag, or name a known field"
              : `delete it (and the lines indented below it), or move it under the section it belongs to`,
        });
      }
      continue;
    }
    const { message, fix } = describeIssue(issue, context);
    problems.push({ code: issue.code, field: issue.path.length > 0 ? issue.path.join(".") : "(root)", line: lineOf?.(issue.path), message, fix });
  }
  return byLine(problems);
}

/** Validate a plain object against the schema, reporting every problem at once. */
export function parseConfig(
  input: unknown,
  source = "config",
  lineOf?: (path: readonly PropertyKey[]) => number | undefined,
  overridden?: ReadonlyMap<string, string>,
): TunekitConfig {
  const result = configSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = configProblems(result.error, lineOf, { input, overridden }).map((problem) => ({ ...problem, file: source }));
  throw new TunekitError(`${source} has ${problems.length} problem${problems.length === 1 ? "" : "s"}`, {
    kind: "config",
    code: "invalid_config",
    problems,
    fix: problems.length === 1 ? problems[0]!.fix! : "each problem above says how to write its value; `tunekit config schema` prints every field with its type and default",
  });
}

/** The sentence a YAML syntax error needs: what is wrong, at which line and column, the line as written, and what usually fixes it. */
function yamlProblem(yamlError: YAMLError, text: string, file: string): ProblemDetail {
  const position = yamlError.linePos?.[0];
  const line = position?.line;
  const column = position?.col;
  const lineText = line !== undefined ? (text.split(/\r?\n/)[line - 1] ?? "") : "";
  const what = (yamlError.message.split("\n")[0] ?? yamlError.message).replace(/ at line \d+, column \d+:?$/, "");
  const fixes: Record<string, string> = {
    BAD_INDENT: "indent the line like the other fields of its section (spaces only), and close every `{` or `[` opened above",
    MISSING_CHAR: "add the missing character; a list is `[a, b]` and a section is `{key: value}` or indented lines",
    TAB_AS_INDENT: "indent with spaces: YAML does not allow tabs",
    BLOCK_AS_IMPLICIT_KEY: 'a value that holds `: ` goes in quotes (`name: "a: b"`); otherwise put each `key: value` on its own line',
    MULTILINE_IMPLICIT_KEY: "put each `key: value` on its own line; a value that holds `: ` goes in quotes",
    DUPLICATE_KEY: "write each field once; delete or merge the repeated one",
    BAD_SCALAR_START: "put the value in quotes (a value that starts with `@`, `` ` `` or `%` must be quoted)",
    UNEXPECTED_TOKEN: "quote values that hold `:`, `#`, `[` or `{`, and check the brackets",
    BAD_DQ_ESCAPE: "use single quotes for paths with backslashes, or write `\\\\`",
  };
  // "must end with a }": name the line where the bracket was opened, which is where the mistake is
  const closer = /end with an? ([}\]])/.exec(what)?.[1];
  let opened = "";
  if (closer && line !== undefined) {
    const opener = closer === "}" ? "{" : "[";
    const lines = text.split(/\r?\n/);
    for (let index = Math.min(line, lines.length) - 1; index >= 0; index--) {
      const written = lines[index]!;
      if (written.split(opener).length > written.split(closer).length) {
        opened = ` (the \`${opener}\` opened on line ${index + 1}, \`${written.trim()}\`, is not closed)`;
        break;
      }
    }
  }
  return {
    code: "invalid_yaml",
    file,
    line,
    message: `${column !== undefined ? `column ${column}: ` : ""}${what}${lineText.trim() !== "" ? `; the line reads \`${lineText.trim()}\`` : ""}${opened}`,
    fix: fixes[yamlError.code] ?? "fix the YAML syntax at that line",
    ...(column !== undefined && { column }),
  } as ProblemDetail;
}

/** Every YAML syntax problem, one per line (the parser reports every token after the first bad one). */
function yamlSyntaxError(errors: readonly YAMLError[], text: string, file: string): TunekitError {
  const problems = errors
    .filter((yamlError, index, all) => all.findIndex((other) => other.linePos?.[0].line === yamlError.linePos?.[0].line) === index)
    .slice(0, 20)
    .map((yamlError) => yamlProblem(yamlError, text, file));
  const first = problems[0];
  return new TunekitError(`${file} is not valid YAML${first?.line !== undefined ? ` (line ${first.line})` : ""}`, {
    kind: "config",
    code: "invalid_yaml",
    file,
    ...(first?.line !== undefined && { line: first.line }),
    problems,
    fix: problems.length === 1 ? first!.fix! : "fix the first line above first: the later ones often follow from it",
  });
}

/**
 * Load `tunekit.yaml` (or only defaults when `path` is null), apply `--set` overrides and validate.
 * Relative data/output paths stay as written; use `resolveConfigPath` to resolve them.
 */
export function loadConfig(path: string | null, overrides: readonly string[] = []): LoadedConfig {
  let raw: Record<string, unknown> = {};
  let lineOf: ((path: readonly PropertyKey[]) => number | undefined) | undefined;
  let absolute: string | null = null;
  if (path !== null) {
    absolute = resolve(path);
    if (!existsSync(absolute)) {
      throw new TunekitError(`config file ${path} does not exist${isAbsolute(path) ? "" : ` (in ${dirname(absolute)})`}`, {
        kind: "usage",
        code: "config_not_found",
        field: "--config",
        fix: "create one with `tunekit init` or pass the right path with `-c`",
      });
    }
    const text = readConfigText(absolute, path);
    const lineCounter = new LineCounter();
    const document = parseDocument(text, { lineCounter, prettyErrors: true });
    if (document.errors.length > 0) throw yamlSyntaxError(document.errors, text, path);
    const value = document.toJS() as unknown;
    if (value !== null && value !== undefined && (typeof value !== "object" || Array.isArray(value))) {
      throw new TunekitError(`${path} must hold a mapping of config fields`, {
        kind: "config",
        code: "invalid_config",
        fix: "start from `tunekit init`",
      });
    }
    raw = (value as Record<string, unknown> | null) ?? {};
    // the line of the key itself (for unknown keys and bad values alike), else of the value
    type PairList = { items?: Array<{ key: { value: unknown; range?: [number, number, number] } }> };
    lineOf = (keyPath) => {
      const parent = (keyPath.length > 1 ? document.getIn(keyPath.slice(0, -1) as unknown[], true) : document.contents) as PairList | null | undefined;
      const pair = parent?.items?.find((item) => item.key?.value === keyPath[keyPath.length - 1]);
      if (pair?.key.range) return lineCounter.linePos(pair.key.range[0]).line;
      const node = document.getIn(keyPath as unknown[], true) as { range?: [number, number, number] } | undefined;
      return node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
    };
  }
  applyOverrides(raw, overrides);
  // a value that came from --set has no line in the file: say so instead of pointing at the file
  const overridden = new Map(
    overrides.map((assignment) => {
      const { path: keyPath, raw: value } = parseOverride(assignment);
      return [keyPath.join("."), value] as const;
    }),
  );
  const isOverridden = (keyPath: readonly PropertyKey[]) => {
    const dotted = keyPath.join(".");
    return [...overridden.keys()].some((name) => name === dotted || dotted.startsWith(`${name}.`));
  };
  const sourceLine = (keyPath: readonly PropertyKey[]) => (isOverridden(keyPath) ? undefined : lineOf?.(keyPath));
  const config = parseConfig(raw, overrides.length > 0 ? `${path ?? "config"} with --set` : (path ?? "config"), sourceLine, overridden);
  return { config, path: absolute, baseDir: absolute ? dirname(absolute) : process.cwd(), lineOf: sourceLine };
}

/** The config file's text; a directory or an unreadable file is a sentence, not EISDIR. */
function readConfigText(absolute: string, given: string): string {
  try {
    return readFileSync(absolute, "utf8");
  } catch (error) {
    const problem = inputFileError(given, error, "--config");
    throw new TunekitError(`config ${problem.message}`, {
      kind: "usage",
      code: problem.code,
      field: "--config",
      file: given,
      fix: (error as NodeJS.ErrnoException).code === "EISDIR" ? "pass the YAML file itself, e.g. -c tunekit.yaml (`tunekit init` writes one)" : problem.fix,
      cause: error,
    });
  }
}

/** A YAML run config as a plain object, unvalidated (callers check it: `checkJobConfig`, `parseConfig`). */
export function readConfigObject(path: string): Record<string, unknown> {
  if (!existsSync(path))
    throw new TunekitError(`config file ${path} does not exist`, {
      kind: "usage",
      code: "config_not_found",
      field: "--config",
      fix: "create one with `tunekit init` or pass the right path with `-c`",
    });
  const text = readConfigText(path, path);
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) throw yamlSyntaxError(document.errors, text, path);
  const value = document.toJS() as unknown;
  if (value !== null && value !== undefined && (typeof value !== "object" || Array.isArray(value)))
    throw new TunekitError(`${path} must hold a mapping of config fields`, { kind: "config", code: "invalid_config", fix: "start from `tunekit init`" });
  return (value as Record<string, unknown> | null) ?? {};
}

/** Resolve a path written in the config relative to the config file's folder. */
export function resolveConfigPath(loaded: LoadedConfig, value: string): string {
  return isAbsolute(value) ? value : resolve(loaded.baseDir, value);
}
