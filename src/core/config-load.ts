import { existsSync, readFileSync } from "node:fs";
import { inputFileError } from "./input-file.js";
import { dirname, isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { configSchema, type TunekitConfig } from "./config-schema.js";
import { TunekitError, type ProblemDetail } from "./errors.js";

export interface LoadedConfig {
  config: TunekitConfig;
  /** absolute path of the YAML file, or null when only defaults and overrides were used */
  path: string | null;
  /** folder relative paths in the config are resolved against */
  baseDir: string;
}

/** Parse `a.b.c=value` into a path and a typed value (YAML scalar rules: 3 -> number, true -> boolean). */
export function parseOverride(assignment: string): { path: string[]; value: unknown } {
  const equals = assignment.indexOf("=");
  if (equals <= 0) {
    throw new TunekitError(`\`--set ${assignment}\` is not of the form key.path=value`, {
      kind: "usage",
      code: "bad_override",
      field: "--set",
      fix: "write it as `--set training.epochs=3`",
    });
  }
  const key = assignment.slice(0, equals).trim();
  const raw = assignment.slice(equals + 1);
  const value = raw === "" ? "" : parseDocument(raw).toJS();
  return { path: key.split("."), value };
}

export function applyOverrides(target: Record<string, unknown>, assignments: readonly string[]): Record<string, unknown> {
  for (const assignment of assignments) {
    const { path, value } = parseOverride(assignment);
    let node: Record<string, unknown> = target;
    for (const segment of path.slice(0, -1)) {
      const next = node[segment];
      if (next === undefined || next === null || typeof next !== "object" || Array.isArray(next)) {
        node[segment] = {};
      }
      node = node[segment] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
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

function describeAt(path: readonly PropertyKey[]): string | undefined {
  let schema: z.ZodType = configSchema;
  for (const segment of path) {
    const shape = objectShape(schema);
    if (!shape || typeof segment !== "string" || !(segment in shape)) return undefined;
    schema = shape[segment]!;
  }
  return schema.description;
}

/** Turn zod issues into problems that each name the path and say how to fix it. */
export function configProblems(error: z.ZodError, lineOf?: (path: readonly PropertyKey[]) => number | undefined): ProblemDetail[] {
  const problems: ProblemDetail[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(issue.path);
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const field = path.join(".");
        const suggestion = known
          .map((candidate) => ({ candidate, distance: editDistance(key, candidate) }))
          .filter(({ distance }) => distance <= Math.max(2, Math.floor(key.length / 3)))
          .sort((a, b) => a.distance - b.distance)[0]?.candidate;
        problems.push({
          code: "unknown_key",
          field,
          line: lineOf?.(path),
          message:
            `\`${field}\` is not a config field; ` +
            (suggestion
              ? `did you mean \`${[...issue.path, suggestion].join(".")}\`?`
              : `remove it (known here: ${known.map((name) => `\`${name}\``).join(", ")})`),
        });
      }
      continue;
    }
    const field = issue.path.length > 0 ? issue.path.join(".") : "(root)";
    const description = describeAt(issue.path);
    const hint = description ? ` (${description})` : "";
    problems.push({
      code: issue.code,
      field,
      line: lineOf?.(issue.path),
      message: `\`${field}\`: ${issue.message}${hint}`,
    });
  }
  return problems;
}

/** Validate a plain object against the schema, reporting every problem at once. */
export function parseConfig(input: unknown, source = "config", lineOf?: (path: readonly PropertyKey[]) => number | undefined): TunekitConfig {
  const result = configSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = configProblems(result.error, lineOf).map((problem) => ({ ...problem, file: source }));
  throw new TunekitError(`${source} has ${problems.length} problem${problems.length === 1 ? "" : "s"}`, {
    kind: "config",
    code: "invalid_config",
    problems,
    fix: "correct the fields above; `tunekit config schema` prints every field with its type and default",
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
      throw new TunekitError(`config file ${path} does not exist`, {
        kind: "usage",
        code: "config_not_found",
        field: "--config",
        fix: "create one with `tunekit init` or pass the right path with `-c`",
      });
    }
    const text = readConfigText(absolute, path);
    const lineCounter = new LineCounter();
    const document = parseDocument(text, { lineCounter, prettyErrors: true });
    if (document.errors.length > 0) {
      throw new TunekitError(`${path} is not valid YAML`, {
        kind: "config",
        code: "invalid_yaml",
        // one problem per line: the YAML parser reports every token after the first bad one
        problems: document.errors
          .filter((yamlError, index, all) => all.findIndex((other) => other.linePos?.[0].line === yamlError.linePos?.[0].line) === index)
          .slice(0, 20)
          .map((yamlError) => ({
          code: "invalid_yaml",
          file: path,
          line: yamlError.linePos?.[0].line,
          message: yamlError.message.split("\n")[0] ?? yamlError.message,
        })),
        fix: "fix the YAML syntax at the lines above",
      });
    }
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
  const overridden = new Set(overrides.map((assignment) => parseOverride(assignment).path.join(".")));
  const sourceLine = (keyPath: readonly PropertyKey[]) => (overridden.has(keyPath.join(".")) ? undefined : lineOf?.(keyPath));
  const config = parseConfig(raw, overrides.length > 0 ? `${path ?? "config"} with --set` : (path ?? "config"), sourceLine);
  return { config, path: absolute, baseDir: absolute ? dirname(absolute) : process.cwd() };
}

/** The config file's text; a directory or an unreadable file is a sentence, not EISDIR. */
function readConfigText(absolute: string, given: string): string {
  try {
    return readFileSync(absolute, "utf8");
  } catch (error) {
    const problem = inputFileError(given, error, "--config");
    throw new TunekitError(`config ${problem.message}`, { kind: "usage", code: problem.code, field: "--config", file: given, fix: (error as NodeJS.ErrnoException).code === "EISDIR" ? "pass the YAML file itself, e.g. -c tunekit.yaml (`tunekit init` writes one)" : problem.fix, cause: error });
  }
}

/** A YAML run config as a plain object, unvalidated (callers check it: `checkJobConfig`, `parseConfig`). */
export function readConfigObject(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new TunekitError(`config file ${path} does not exist`, { kind: "usage", code: "config_not_found", field: "--config", fix: "create one with `tunekit init` or pass the right path with `-c`" });
  const document = parseDocument(readConfigText(path, path));
  if (document.errors.length > 0) throw new TunekitError(`${path} is not valid YAML: ${document.errors[0]?.message.split("\n")[0]}`, { kind: "config", code: "invalid_yaml", file: path, line: document.errors[0]?.linePos?.[0].line, fix: "fix the YAML syntax at that line" });
  const value = document.toJS() as unknown;
  if (value !== null && value !== undefined && (typeof value !== "object" || Array.isArray(value))) throw new TunekitError(`${path} must hold a mapping of config fields`, { kind: "config", code: "invalid_config", fix: "start from `tunekit init`" });
  return (value as Record<string, unknown> | null) ?? {};
}

/** Resolve a path written in the config relative to the config file's folder. */
export function resolveConfigPath(loaded: LoadedConfig, value: string): string {
  return isAbsolute(value) ? value : resolve(loaded.baseDir, value);
}
