import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { expect } from "vitest";

/**
 * The `--json` contract of the CLI: every command's output is checked against its schema in
 * schemas/cli/<command>.schema.json (the command's words joined by "-": `data validate` ->
 * data-validate), and an error, whatever the command, against schemas/cli/error.schema.json.
 */
export const SCHEMA_DIR = resolve("schemas/cli");

const ajv = new Ajv2020({ strict: false, allErrors: true });
const compiled = new Map<string, ValidateFunction>();

export function schemaNames(): string[] {
  return readdirSync(SCHEMA_DIR)
    .filter((name) => name.endsWith(".schema.json"))
    .map((name) => name.slice(0, -".schema.json".length));
}

function validator(name: string): ValidateFunction {
  const cached = compiled.get(name);
  if (cached) return cached;
  const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, `${name}.schema.json`), "utf8")) as object;
  const validate = ajv.compile(schema);
  compiled.set(name, validate);
  return validate;
}

/** Parse one `--json` document from stdout and check it: the error schema when it is an error. */
export function expectJsonOutput<T = Record<string, unknown>>(name: string, stdout: string): T {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch (error) {
    throw new Error(`\`${name} --json\` did not print one JSON document (${(error as Error).message}):\n${stdout.slice(0, 500)}`, { cause: error });
  }
  expectMatchesSchema(value !== null && typeof value === "object" && "error" in value && Object.keys(value).length === 1 ? "error" : name, value);
  return value as T;
}

/** JSON Lines output (`train --json`): every line checked against the command's line schema. */
export function expectJsonLines(name: string, stdout: string): Record<string, unknown>[] {
  const records = stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  for (const record of records) expectMatchesSchema(name, record);
  return records;
}

/** Every problem (an object with a `code` and a `message`) carries its own `fix`: the contract's rule. */
export function problemsWithoutFix(value: unknown, where = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((item, index) => problemsWithoutFix(item, `${where}[${index}]`));
  if (value === null || typeof value !== "object") return [];
  const record = value as Record<string, unknown>;
  const own =
    typeof record.code === "string" && typeof record.message === "string" && !(typeof record.fix === "string" && record.fix !== "") ? [`${where || "(root)"} ${record.code}`] : [];
  return [...own, ...Object.entries(record).flatMap(([key, entry]) => problemsWithoutFix(entry, `${where}.${key}`))];
}

export function expectMatchesSchema(name: string, value: unknown): void {
  expect(problemsWithoutFix(value), `${name}: problems without a fix`).toEqual([]);
  // drafting a new schema: TUNEKIT_JSON_SAMPLES=dir collects the real outputs of commands that have
  // none yet (scripts/draft-json-schema.mjs turns them into a draft); without it a missing schema fails
  const samples = process.env.TUNEKIT_JSON_SAMPLES;
  if (samples && !existsSync(join(SCHEMA_DIR, `${name}.schema.json`))) {
    mkdirSync(samples, { recursive: true });
    appendFileSync(join(samples, `${name}.jsonl`), `${JSON.stringify(value)}\n`);
    return;
  }
  const validate = validator(name);
  const problems = validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || "(root)"} ${error.message} ${JSON.stringify(error.params)}`);
  expect(problems, `${name}: ${JSON.stringify(value).slice(0, 400)}`).toEqual([]);
}
