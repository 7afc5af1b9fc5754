import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import type { WorkerPlan } from "../src/spec/worker-plan.js";

/**
 * Property-based fuzz of every operation in the server's own /openapi.json (issue 12): requests
 * are generated from each operation's documented path, query and body schemas (valid values, wrong
 * types, missing and extra fields, nulls, huge strings, deep nesting), sent with and without a key
 * and with wrong content types. Every answer must be below 500, every error OpenAI's envelope, and
 * the server must still answer afterwards. Fixed seed, bounded cases: a failure replays exactly,
 * and fast-check shrinks it to a minimal request.
 *
 * Nothing trains (maxConcurrentJobs 0), the estimate's planner is a stub (the real one runs the
 * Python worker), and chat requests never name the configured base model (serving it would convert
 * it with the worker); no request leaves 127.0.0.1.
 */

// fixed, so that a failure replays exactly; TUNEKIT_FUZZ_SEED / TUNEKIT_FUZZ_RUNS explore further by hand
const FUZZ_SEED = Number(process.env.TUNEKIT_FUZZ_SEED ?? 42);
const RUNS_PER_OPERATION = Number(process.env.TUNEKIT_FUZZ_RUNS ?? 200);
/** how long a streaming answer (`stream=true`, `follow=true`, chat `stream: true`) is read before it is aborted */
const STREAM_READ_MS = 300;
/** longest wait for any other answer: a request that takes longer is a hung server */
const ANSWER_TIMEOUT_MS = 15_000;
const BASE_MODEL = "fuzz-base";
const DEEP_NESTING_MARKER = "\u0000deep-nesting:";

// ---------------------------------------------------------------------------------------------
// the parts of OpenAPI 3.0.3 the fuzz reads

interface JsonSchema {
  $ref?: string;
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean | number;
  exclusiveMaximum?: boolean | number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
}

interface ParameterObject {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: JsonSchema;
}

interface OperationObject {
  parameters?: ParameterObject[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, { content?: Record<string, unknown> }>;
}

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

interface Operation {
  method: string;
  path: string;
  definition: OperationObject;
}

// ---------------------------------------------------------------------------------------------
// what one generated request is (plain data, so fast-check can shrink and print it)

type AuthChoice = "valid key" | "other project's key" | "azure api-key header" | "no key" | "wrong key" | "not a bearer";

type BodyPlan =
  | { kind: "none" }
  | { kind: "json"; contentType: string | null; value: unknown }
  | { kind: "raw"; contentType: string | null; text: string }
  | { kind: "multipart"; contentType: string | null; parts: MultipartPart[]; truncated: boolean };

interface MultipartPart {
  field: string;
  filename: string | null;
  content: string;
}

interface RequestPlan {
  method: string;
  /** the path with its parameters filled in, already as it goes on the wire */
  path: string;
  query: Array<[string, string]>;
  auth: AuthChoice;
  body: BodyPlan;
}

interface SeededIds {
  fileIds: string[];
  jobIds: string[];
  otherProjectFileId: string;
  /** a queued job no generated request names (the others may be cancelled): its streams stay open */
  liveJobId: string;
}

interface GenerationContext {
  seeded: SeededIds;
  /** `model` values of bodies and queries: the chat routes leave the base model out (serving it runs the worker) */
  modelNames: string[];
}

// ---------------------------------------------------------------------------------------------
// arbitraries derived from JSON Schema

const shortText = fc.string({ maxLength: 12 });
const unicodeText = fc.string({ unit: "grapheme", maxLength: 12 });
const awkwardStrings = fc.constantFrom("", " ", "\u0000", "null", "true", "1", "-1", "1e999", "NaN", "auto", "💥", "\u202e\u200b", "a\r\nb", "../../etc/passwd", "%00", "{}", "[]");
const hugeString = fc.constantFrom(10_000, 200_000, 1_000_000).map((length) => "é".repeat(length));
/** a marker that `toJsonText` turns into nesting this deep (JSON.stringify would overflow first) */
const deepNesting = fc.tuple(fc.integer({ min: 64, max: 20_000 }), fc.constantFrom("array", "object")).map(([depth, kind]) => `${DEEP_NESTING_MARKER}${depth}:${kind}\u0000`);
const extremeNumbers = fc.constantFrom(0, -0, -1, 0.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -(2 ** 63), 5e-324);

/** any JSON value, including the awkward ones */
const anyJsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: awkwardStrings },
  { weight: 1, arbitrary: extremeNumbers },
  { weight: 1, arbitrary: unicodeText },
  { weight: 1, arbitrary: fc.constant(null) },
);

/** a value of some JSON type, most likely not the documented one */
const wrongTypeValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, "", "x", [], {}, [null], { "": null }) },
  { weight: 2, arbitrary: anyJsonValue },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: deepNesting },
);

const extraKeyName = fc.oneof(fc.constantFrom("__proto__", "constructor", "prototype", "", "extra", "stream", "tunekit", "model"), shortText);

function resolveSchema(document: OpenApiDocument, schema: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace(/^#\/components\/schemas\//, "");
  return document.components?.schemas?.[name] ?? {};
}

function schemaType(schema: JsonSchema): string | undefined {
  if (schema.type) return schema.type;
  if (schema.properties) return "object";
  if (schema.items) return "array";
  return undefined;
}

function lowerBound(schema: JsonSchema): { value: number | undefined; excluded: boolean } {
  if (typeof schema.exclusiveMinimum === "number") return { value: schema.exclusiveMinimum, excluded: true };
  return { value: schema.minimum, excluded: schema.exclusiveMinimum === true };
}

function upperBound(schema: JsonSchema): { value: number | undefined; excluded: boolean } {
  if (typeof schema.exclusiveMaximum === "number") return { value: schema.exclusiveMaximum, excluded: true };
  return { value: schema.maximum, excluded: schema.exclusiveMaximum === true };
}

/** values a property of this name should often take: ids and models that exist on the server */
function hintFor(propertyName: string | null, context: GenerationContext): fc.Arbitrary<unknown> | null {
  if (propertyName === "model") {
    const [preferred = BASE_MODEL, ...others] = context.modelNames;
    return others.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constant(preferred) }, { weight: 1, arbitrary: fc.constantFrom(...others) }) : fc.constant(preferred);
  }
  if (propertyName === "training_file" || propertyName === "validation_file" || propertyName === "remove_overlap_with") {
    const [trainingFileId = "file-doesnotexist", ...otherFileIds] = context.seeded.fileIds;
    return fc.oneof(
      { weight: 4, arbitrary: fc.constant(trainingFileId) },
      { weight: 1, arbitrary: fc.constantFrom(...otherFileIds, context.seeded.otherProjectFileId, "file-doesnotexist") },
    );
  }
  return null;
}

class SchemaArbitraries {
  constructor(
    private readonly document: OpenApiDocument,
    private readonly context: GenerationContext,
  ) {}

  /** values the schema accepts (mostly: patterns and lengths are approximated) */
  valid(rawSchema: JsonSchema, depth = 0, propertyName: string | null = null): fc.Arbitrary<unknown> {
    const schema = resolveSchema(this.document, rawSchema);
    const hint = hintFor(propertyName, this.context);
    const plain = this.validIgnoringNull(schema, depth, propertyName);
    const withHint = hint ? fc.oneof({ weight: 5, arbitrary: hint }, { weight: 1, arbitrary: plain }) : plain;
    return schema.nullable ? fc.oneof({ weight: 4, arbitrary: withHint }, { weight: 1, arbitrary: fc.constant(null) }) : withHint;
  }

  private validIgnoringNull(schema: JsonSchema, depth: number, propertyName: string | null): fc.Arbitrary<unknown> {
    if (schema.enum && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
    const alternatives = schema.anyOf ?? schema.oneOf;
    if (alternatives && alternatives.length > 0) return fc.oneof(...alternatives.map((alternative) => this.valid(alternative, depth + 1, propertyName)));
    if (schema.allOf && schema.allOf.length > 0) return this.valid(schema.allOf[0] ?? {}, depth + 1, propertyName);
    switch (schemaType(schema)) {
      case "string": {
        const minLength = schema.minLength ?? 0;
        const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? 24, 64));
        if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern), { maxLength }).filter((text) => text.length >= minLength);
        return fc.oneof(fc.string({ minLength, maxLength }), fc.string({ unit: "grapheme", minLength, maxLength }));
      }
      case "integer": {
        const low = lowerBound(schema);
        const high = upperBound(schema);
        const min = Math.max(Number.MIN_SAFE_INTEGER, low.value === undefined ? -1_000_000 : Math.ceil(low.value) + (low.excluded ? 1 : 0));
        const max = Math.min(Number.MAX_SAFE_INTEGER, high.value === undefined ? 1_000_000 : Math.floor(high.value) - (high.excluded ? 1 : 0));
        return min <= max ? fc.integer({ min, max }) : fc.constant(min);
      }
      case "number": {
        const low = lowerBound(schema);
        const high = upperBound(schema);
        return fc.double({ min: low.value ?? -1e6, minExcluded: low.excluded, max: high.value ?? 1e6, maxExcluded: high.excluded, noNaN: true, noDefaultInfinity: true });
      }
      case "boolean":
        return fc.boolean();
      case "array":
        return fc.array(depth > 4 ? anyJsonValue : this.valid(schema.items ?? {}, depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 3, 3) });
      case "object": {
        const properties = schema.properties ?? {};
        const names = Object.keys(properties);
        if (names.length === 0 || depth > 5) {
          if (schema.additionalProperties === false) return fc.constant({});
          const valueSchema = typeof schema.additionalProperties === "object" ? schema.additionalProperties : {};
          return fc.dictionary(shortText, depth > 5 ? anyJsonValue : this.valid(valueSchema, depth + 1), { maxKeys: 3 });
        }
        const model: Record<string, fc.Arbitrary<unknown>> = {};
        for (const name of names) model[name] = this.valid(properties[name] ?? {}, depth + 1, name);
        return fc.record(model, { requiredKeys: (schema.required ?? []).filter((name) => names.includes(name)) });
      }
      default:
        return anyJsonValue;
    }
  }

  /** values the schema (most likely) refuses: wrong types, out of range, missing required fields, extra keys, nested the same way */
  invalid(rawSchema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
    const schema = resolveSchema(this.document, rawSchema);
    const type = schemaType(schema);
    const specific: fc.Arbitrary<unknown>[] = [];
    if (schema.enum) specific.push(fc.oneof(shortText, fc.constantFrom(...schema.enum.map((value) => (typeof value === "string" ? value.toUpperCase() + " " : value)))));
    if (type === "string") {
      specific.push(fc.constantFrom("", " ", "\u0000"), hugeString);
      if (schema.maxLength !== undefined) specific.push(fc.constant("x".repeat(schema.maxLength + 1)));
    }
    if (type === "integer" || type === "number") {
      specific.push(extremeNumbers, fc.constantFrom(0.5, -1), fc.constantFrom("1", "auto"));
      const low = lowerBound(schema).value;
      const high = upperBound(schema).value;
      if (low !== undefined) specific.push(fc.constant(low - 1), fc.constant(low));
      if (high !== undefined) specific.push(fc.constant(high + 1), fc.constant(high));
    }
    if (type === "array") {
      specific.push(fc.array(depth > 4 ? wrongTypeValue : this.invalid(schema.items ?? {}, depth + 1), { minLength: 1, maxLength: 3 }));
      if (schema.maxItems !== undefined)
        specific.push(fc.array(depth > 4 ? anyJsonValue : this.valid(schema.items ?? {}, depth + 1), { minLength: schema.maxItems + 1, maxLength: schema.maxItems + 2 }));
    }
    if (type === "object" && Object.keys(schema.properties ?? {}).length > 0 && depth <= 5) specific.push(this.mutatedObject(schema, depth));
    return specific.length > 0 ? fc.oneof({ weight: 1, arbitrary: wrongTypeValue }, { weight: 3, arbitrary: fc.oneof(...specific) }) : wrongTypeValue;
  }

  /** a valid object with one thing wrong: a property invalid (recursively), a required one gone, or a key that is not documented */
  private mutatedObject(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
    const properties = schema.properties ?? {};
    const names = Object.keys(properties);
    const base = this.valid(schema, depth) as fc.Arbitrary<Record<string, unknown>>;
    const mutations: fc.Arbitrary<Record<string, unknown>>[] = [
      fc.tuple(base, extraKeyName, anyJsonValue).map(([object, key, value]) => ({ ...object, [key]: value })),
      fc.tuple(base, fc.constantFrom(...names)).map(([object, key]) => ({ ...object, [key]: null })),
      fc.constantFrom(...names).chain((name) => fc.tuple(base, this.invalid(properties[name] ?? {}, depth + 1)).map(([object, value]) => ({ ...object, [name]: value }))),
    ];
    const required = schema.required ?? [];
    if (required.length > 0) {
      mutations.push(
        fc.tuple(base, fc.constantFrom(...required)).map(([object, name]) => {
          const copy = { ...object };
          delete copy[name];
          return copy;
        }),
      );
    }
    return fc.oneof(...mutations);
  }

  /**
   * Only the required properties (seeded ids and models), plus at most one optional one: the
   * requests most likely to pass the checks between fields that no schema states (`hyperparameters`
   * or `method`, not both) and reach the service behind them.
   */
  sparse(rawSchema: JsonSchema): fc.Arbitrary<unknown> {
    const schema = resolveSchema(this.document, rawSchema);
    const properties = schema.properties ?? {};
    const names = Object.keys(properties);
    if (schemaType(schema) !== "object" || names.length === 0) return this.valid(schema);
    const required = (schema.required ?? []).filter((name) => names.includes(name));
    const optional = names.filter((name) => !required.includes(name));
    const requiredModel: Record<string, fc.Arbitrary<unknown>> = {};
    for (const name of required) requiredModel[name] = this.valid(properties[name] ?? {}, 1, name);
    const base = fc.record(requiredModel);
    if (optional.length === 0) return base;
    const oneOptional = fc.constantFrom(...optional).chain((name) => this.valid(properties[name] ?? {}, 1, name).map((value): [string, unknown] => [name, value]));
    return fc.tuple(base, fc.option(oneOptional, { nil: null })).map(([object, extra]) => (extra ? { ...object, [extra[0]]: extra[1] } : object));
  }

  /** a request body for a documented JSON schema: valid, one thing wrong, or not an object at all */
  jsonBody(schema: JsonSchema): fc.Arbitrary<unknown> {
    return fc.oneof(
      { weight: 3, arbitrary: this.sparse(schema) },
      { weight: 3, arbitrary: this.valid(schema) },
      { weight: 5, arbitrary: this.invalid(schema) },
      { weight: 1, arbitrary: fc.oneof(wrongTypeValue, fc.array(this.valid(schema), { minLength: 1, maxLength: 2 })) },
    );
  }
}

/** JSON text of a generated value; deep-nesting markers become real nesting */
function toJsonText(value: unknown): string {
  const text = JSON.stringify(value) ?? "null";
  return text.replace(/"\\u0000deep-nesting:(\d+):(array|object)\\u0000"/g, (_match, depthText: string, kind: string) => {
    const depth = Number(depthText);
    return kind === "array" ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  });
}

// ---------------------------------------------------------------------------------------------
// requests from an operation

const malformedSegments = fc.constantFrom(
  "%C3%9A%F1%B8",
  "%",
  "%zz",
  "%E0%A4%A",
  "%FF%FE",
  "%00",
  "%2F",
  "%252F",
  "%25",
  "%2e%2e",
  "..%2F..%2Fetc%2Fpasswd",
  ";",
  "$",
  "~",
  "%20",
  "a%0Ab",
  "%C0%AF",
);

function pathValues(operationPath: string, parameterName: string, context: GenerationContext): fc.Arbitrary<string> {
  const generic = fc.oneof(
    { weight: 2, arbitrary: shortText.map(encodeURIComponent) },
    { weight: 2, arbitrary: unicodeText.map(encodeURIComponent) },
    { weight: 2, arbitrary: malformedSegments },
    { weight: 1, arbitrary: fc.constantFrom(200, 2_000, 8_000, 20_000).map((length) => "a".repeat(length)) },
    { weight: 1, arbitrary: fc.constantFrom(500, 3_000).map((count) => "%C3%A9".repeat(count)) },
  );
  // an id of the resource the path names, mostly; now and then one of another kind or project
  const ownKind = operationPath.includes("/files/") ? context.seeded.fileIds : context.seeded.jobIds;
  const otherKind = operationPath.includes("/files/") ? context.seeded.jobIds : context.seeded.fileIds;
  const known: Record<string, string[]> = {
    id: [...ownKind, ...ownKind, ...ownKind, ...otherKind, context.seeded.otherProjectFileId, "file-doesnotexist", "ftjob-doesnotexist"],
    provider: ["openai", "azure", "together"],
    // a deployment is a model id: never the base model (serving it would run the worker)
    deployment: ["gpt-4o-mini", `ft:${BASE_MODEL}::abcd1234`, "nope"],
    "*": [BASE_MODEL, "gpt-4o-mini", `ft:${BASE_MODEL}:suffix:abcd1234`, "a/b/c", `ft%3A${BASE_MODEL}%3Ax%3Ay`],
  };
  const seededValues = known[parameterName] ?? [];
  if (seededValues.length === 0) return generic;
  const seededArbitrary = fc.constantFrom(...seededValues).map((value) => (parameterName === "*" ? value : encodeURIComponent(value)));
  return fc.oneof({ weight: 6, arbitrary: seededArbitrary }, { weight: 2, arbitrary: generic });
}

function queryValue(schema: JsonSchema, arbitraries: SchemaArbitraries): fc.Arbitrary<string[]> {
  const asText = (value: unknown) => (typeof value === "string" ? value : toJsonText(value));
  return fc.oneof(
    { weight: 4, arbitrary: arbitraries.valid(schema).map((value) => [asText(value)]) },
    {
      weight: 3,
      arbitrary: fc
        .oneof(
          awkwardStrings,
          shortText,
          unicodeText,
          hugeString.map((text) => text.slice(0, 4_000)),
        )
        .map((value) => [value]),
    },
    { weight: 1, arbitrary: fc.tuple(shortText, shortText).map(([first, second]) => [first, second]) },
  );
}

function queryArbitrary(operation: Operation, arbitraries: SchemaArbitraries, context: GenerationContext): fc.Arbitrary<Array<[string, string]>> {
  const documented = (operation.definition.parameters ?? []).filter((parameter) => parameter.in === "query");
  const perParameter = documented.map((parameter) => {
    // `model` of the stats route: a tokenizer this machine has (an OpenAI name), this server's models, paths and hub ids
    const schema =
      parameter.name === "model"
        ? { type: "string", enum: ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini", ...context.modelNames, ".", "/", "/etc/hostname", "a/b"] }
        : (parameter.schema ?? {});
    return fc.option(
      queryValue(schema, arbitraries).map((values) => values.map((value): [string, string] => [parameter.name, value])),
      { freq: parameter.required ? 8 : 2, nil: [] as Array<[string, string]> },
    );
  });
  const extras = fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom("after", "limit", "order", "purpose", "stream", "follow", "metadata[team]", "api-version", "__proto__"), shortText),
      fc.oneof(awkwardStrings, shortText),
    ),
    { maxLength: 2 },
  );
  return fc.tuple(fc.tuple(...perParameter), extras).map(([documentedPairs, extraPairs]) => [...documentedPairs.flat(), ...extraPairs]);
}

const jsonContentTypes = fc.constantFrom<string | null>(
  "application/json",
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data",
  "application/octet-stream",
  "application/jsonx",
  null,
);
const rawJsonTexts = fc.constantFrom(
  "",
  " ",
  "\n",
  "{",
  "}",
  "[",
  "null",
  "[]",
  '""',
  "0",
  "true",
  "1e999",
  "\uFEFF{}",
  "{'a':1}",
  '{"a":1}{"b":2}',
  '{"model":',
  "\u0000",
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
);

function bodyWithoutSchema(method: string): fc.Arbitrary<BodyPlan> {
  if (method === "GET") return fc.constant<BodyPlan>({ kind: "none" });
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant<BodyPlan>({ kind: "none" }) },
    { weight: 2, arbitrary: fc.constant<BodyPlan>({ kind: "raw", contentType: "application/json", text: "" }) },
    { weight: 2, arbitrary: fc.tuple(jsonContentTypes, anyJsonValue).map(([contentType, value]): BodyPlan => ({ kind: "json", contentType, value })) },
    { weight: 1, arbitrary: fc.tuple(jsonContentTypes, rawJsonTexts).map(([contentType, text]): BodyPlan => ({ kind: "raw", contentType, text })) },
  );
}

function jsonBodyPlan(schema: JsonSchema, arbitraries: SchemaArbitraries): fc.Arbitrary<BodyPlan> {
  return fc.oneof(
    { weight: 8, arbitrary: arbitraries.jsonBody(schema).map((value): BodyPlan => ({ kind: "json", contentType: "application/json", value })) },
    { weight: 2, arbitrary: fc.tuple(jsonContentTypes, arbitraries.jsonBody(schema)).map(([contentType, value]): BodyPlan => ({ kind: "json", contentType, value })) },
    { weight: 2, arbitrary: fc.tuple(jsonContentTypes, rawJsonTexts).map(([contentType, text]): BodyPlan => ({ kind: "raw", contentType, text })) },
    { weight: 1, arbitrary: fc.constant<BodyPlan>({ kind: "none" }) },
    // over the 10 MiB JSON limit
    { weight: 1, arbitrary: fc.constant<BodyPlan>({ kind: "raw", contentType: "application/json", text: `{"model":"${"x".repeat(11 << 20)}"}` }) },
  );
}

const validTrainingLine = JSON.stringify({
  messages: [
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello" },
  ],
});
const uploadContents = fc.constantFrom(
  `${validTrainingLine}\n${validTrainingLine}\n`,
  "",
  "not json\n",
  "prompt,completion\nhi,hello\n",
  "\uFEFF" + validTrainingLine,
  '{"messages": [\n',
  "\u0000\u0001\u0002",
  "[1,2,3]",
);
const uploadFilenames = fc.oneof(
  fc.constantFrom("train.jsonl", "data.csv", "", "../../escape.jsonl", "a\u0000b.jsonl", "名前.jsonl", "x".repeat(1_000), "no-extension", "sheet.parquet"),
  shortText,
);

function multipartBodyPlan(): fc.Arbitrary<BodyPlan> {
  const filePart = fc.record({ field: fc.constantFrom("file", "file", "file", "files", ""), filename: fc.option(uploadFilenames, { nil: null }), content: uploadContents });
  const purposePart = fc.record({
    field: fc.constant("purpose"),
    filename: fc.constant(null),
    content: fc.oneof(fc.constantFrom("fine-tune", "fine-tune", "batch", "assistants", "", "FINE-TUNE"), shortText),
  });
  const parts = fc
    .tuple(
      fc.array(filePart, { maxLength: 2 }),
      fc.option(purposePart, { nil: null }),
      fc.array(fc.record({ field: shortText, filename: fc.constant(null), content: shortText }), { maxLength: 2 }),
    )
    .map(([files, purpose, extras]) => [...files, ...(purpose ? [purpose] : []), ...extras]);
  const contentTypes = fc.constantFrom<string | null>(
    "multipart/form-data; boundary=fuzzboundary",
    "multipart/form-data; boundary=fuzzboundary",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=other",
    "application/json",
    null,
  );
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(contentTypes, parts, fc.boolean())
        .map(([contentType, partList, truncated]): BodyPlan => ({ kind: "multipart", contentType, parts: partList, truncated })),
    },
    { weight: 1, arbitrary: fc.constant<BodyPlan>({ kind: "none" }) },
    { weight: 1, arbitrary: fc.tuple(jsonContentTypes, rawJsonTexts).map(([contentType, text]): BodyPlan => ({ kind: "raw", contentType, text })) },
  );
}

const authChoices = fc.oneof(
  { weight: 8, arbitrary: fc.constant<AuthChoice>("valid key") },
  { weight: 1, arbitrary: fc.constantFrom<AuthChoice>("other project's key", "azure api-key header", "no key", "wrong key", "not a bearer") },
);

function requestArbitrary(operation: Operation, document: OpenApiDocument, context: GenerationContext): fc.Arbitrary<RequestPlan> {
  const arbitraries = new SchemaArbitraries(document, context);
  const pathParameterNames = [...operation.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] ?? "");
  const pathArbitrary = fc.tuple(...pathParameterNames.map((name) => pathValues(operation.path, name, context))).map((values) => {
    let index = 0;
    return operation.path.replace(/\{[^}]+\}/g, () => values[index++] ?? "");
  });
  const bodySchema = operation.definition.requestBody?.content?.["application/json"]?.schema;
  const isUpload = operation.method === "POST" && operation.path === "/v1/files";
  const body = isUpload ? multipartBodyPlan() : bodySchema ? jsonBodyPlan(bodySchema, arbitraries) : bodyWithoutSchema(operation.method);
  // now and then a method the path does not answer (405 with Allow)
  const method = fc.oneof({ weight: 12, arbitrary: fc.constant(operation.method) }, { weight: 1, arbitrary: fc.constantFrom("PUT", "PATCH", "DELETE", "POST", "GET") });
  return fc.record({ method, path: pathArbitrary, query: queryArbitrary(operation, arbitraries, context), auth: authChoices, body });
}

/**
 * Requests every run starts with (fast-check's `examples`, before the generated ones): the
 * operation on seeded ids with a valid key, and with `stream=true` / `follow=true` where the
 * operation documents them, so the streaming answers are always read (and aborted).
 */
function examplePlans(operation: Operation, context: GenerationContext): RequestPlan[] {
  const seededPathValues: Record<string, string> = {
    id: (operation.path.includes("/files/") ? context.seeded.fileIds[0] : context.seeded.jobIds[0]) ?? "missing",
    provider: "openai",
    deployment: "gpt-4o-mini",
    "*": BASE_MODEL,
  };
  const path = operation.path.replace(/\{([^}]+)\}/g, (_match, name: string) => seededPathValues[name] ?? "x");
  const isUpload = operation.method === "POST" && operation.path === "/v1/files";
  const hasBody = operation.definition.requestBody?.content?.["application/json"] !== undefined;
  const body: BodyPlan = isUpload
    ? {
        kind: "multipart",
        contentType: "multipart/form-data; boundary=fuzzboundary",
        parts: [
          { field: "purpose", filename: null, content: "fine-tune" },
          { field: "file", filename: "train.jsonl", content: `${validTrainingLine}\n` },
        ],
        truncated: false,
      }
    : hasBody
      ? { kind: "json", contentType: "application/json", value: {} }
      : { kind: "none" };
  const plans: RequestPlan[] = [{ method: operation.method, path, query: [], auth: "valid key", body }];
  for (const parameter of operation.definition.parameters ?? []) {
    if (parameter.in === "query" && (parameter.name === "stream" || parameter.name === "follow")) {
      plans.push({
        method: operation.method,
        path: path.replace(context.seeded.jobIds[0] ?? "missing", context.seeded.liveJobId),
        query: [[parameter.name, "true"]],
        auth: "valid key",
        body,
      });
    }
  }
  if (operation.path.endsWith("/chat/completions") && hasBody) {
    plans.push({
      method: operation.method,
      path,
      query: [],
      auth: "valid key",
      body: { kind: "json", contentType: "application/json", value: { model: context.modelNames[0], messages: [{ role: "user", content: "Hi" }], stream: true } },
    });
  }
  return plans;
}

// ---------------------------------------------------------------------------------------------
// sending a request and judging the answer

interface Answer {
  status: number;
  contentType: string;
  text: string;
  /** the body was cut off (a stream read for STREAM_READ_MS) */
  streamed: boolean;
}

function multipartText(parts: MultipartPart[], truncated: boolean): string {
  const sections = parts.map((part) => {
    const disposition = `form-data; name="${part.field}"${part.filename === null ? "" : `; filename="${part.filename}"`}`;
    return `--fuzzboundary\r\nContent-Disposition: ${disposition}\r\n${part.filename === null ? "" : "Content-Type: application/octet-stream\r\n"}\r\n${part.content}\r\n`;
  });
  const text = `${sections.join("")}--fuzzboundary--\r\n`;
  return truncated ? text.slice(0, Math.floor(text.length / 2)) : text;
}

function bodyOf(plan: BodyPlan): { text: string | null; contentType: string | null } {
  switch (plan.kind) {
    case "none":
      return { text: null, contentType: null };
    case "json":
      return { text: toJsonText(plan.value), contentType: plan.contentType };
    case "raw":
      return { text: plan.text, contentType: plan.contentType };
    case "multipart":
      return { text: multipartText(plan.parts, plan.truncated), contentType: plan.contentType };
  }
}

function urlOf(plan: RequestPlan): string {
  const query = plan.query.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join("&");
  return query === "" ? plan.path : `${plan.path}?${query}`;
}

/** may the answer be a stream that does not end by itself? */
function mayStream(plan: RequestPlan): boolean {
  if (plan.query.some(([key, value]) => (key === "stream" || key === "follow") && value === "true")) return true;
  return plan.body.kind === "json" && typeof plan.body.value === "object" && plan.body.value !== null && (plan.body.value as Record<string, unknown>).stream === true;
}

function clip(text: string, length = 400): string {
  return text.length > length ? `${text.slice(0, length)}... (${text.length} chars)` : text;
}

function describeRequest(plan: RequestPlan): string {
  const { text, contentType } = bodyOf(plan.body);
  return [
    `${plan.method} ${clip(urlOf(plan), 300)}`,
    `auth: ${plan.auth}`,
    `content-type: ${contentType ?? "(none)"}`,
    `body: ${text === null ? "(none)" : JSON.stringify(clip(text))}`,
  ].join("\n  ");
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

class FuzzClient {
  constructor(
    private readonly baseUrl: string,
    private readonly keys: { own: string; other: string },
  ) {}

  private headersFor(plan: RequestPlan, contentType: string | null): Record<string, string> {
    const headers: Record<string, string> = {};
    if (plan.auth === "valid key") headers.authorization = `Bearer ${this.keys.own}`;
    if (plan.auth === "other project's key") headers.authorization = `Bearer ${this.keys.other}`;
    if (plan.auth === "azure api-key header") headers["api-key"] = this.keys.own;
    if (plan.auth === "wrong key") headers.authorization = "Bearer tk-wrong-key";
    if (plan.auth === "not a bearer") headers.authorization = `Basic ${Buffer.from("user:password").toString("base64")}`;
    if (contentType !== null) headers["content-type"] = contentType;
    return headers;
  }

  /** The answer, or null for a stream that was aborted before its headers came. */
  async send(plan: RequestPlan): Promise<Answer | null> {
    const { text, contentType } = bodyOf(plan.body);
    const streaming = mayStream(plan);
    const signal = AbortSignal.timeout(streaming ? STREAM_READ_MS : ANSWER_TIMEOUT_MS);
    // a body without a content-type header: bytes, so fetch adds none
    const body = text === null || plan.method === "GET" ? undefined : contentType === null ? new TextEncoder().encode(text) : text;
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${urlOf(plan)}`, { method: plan.method, headers: this.headersFor(plan, contentType), body, signal });
    } catch (error) {
      if (streaming && isAbort(error)) return null;
      if (isAbort(error)) throw new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`, { cause: error });
      throw new Error(`the request failed: ${(error as Error).message} (${String((error as { cause?: unknown }).cause)})`, { cause: error });
    }
    const answerType = response.headers.get("content-type") ?? "";
    try {
      return { status: response.status, contentType: answerType, text: await response.text(), streamed: false };
    } catch (error) {
      if (!isAbort(error)) throw error;
      return { status: response.status, contentType: answerType, text: "", streamed: true };
    }
  }
}

const NON_JSON_SUCCESS_TYPES = ["text/event-stream", "text/plain", "application/octet-stream"];

/** What is wrong with an answer, or null. */
function problemWith(answer: Answer): string | null {
  if (answer.status >= 500) return `answered ${answer.status}: ${clip(answer.text)}`;
  if (answer.status < 400) {
    if (answer.contentType.startsWith("application/json") && !answer.streamed) {
      try {
        JSON.parse(answer.text);
      } catch {
        return `answered ${answer.status} with a JSON content type and a body that is not JSON: ${clip(answer.text)}`;
      }
      return null;
    }
    if (answer.status === 204 || NON_JSON_SUCCESS_TYPES.some((type) => answer.contentType.startsWith(type))) return null;
    return `answered ${answer.status} with an undocumented content type \`${answer.contentType}\``;
  }
  if (!answer.contentType.startsWith("application/json"))
    return `answered ${answer.status} with content type \`${answer.contentType}\`, not OpenAI's JSON error envelope: ${clip(answer.text)}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    return `answered ${answer.status} with a body that is not JSON: ${clip(answer.text)}`;
  }
  const error = (parsed as { error?: Record<string, unknown> } | null)?.error;
  const envelopeOk =
    typeof parsed === "object" &&
    parsed !== null &&
    !Array.isArray(parsed) &&
    typeof error === "object" &&
    error !== null &&
    typeof error.message === "string" &&
    typeof error.type === "string" &&
    (typeof error.param === "string" || error.param === null) &&
    (typeof error.code === "string" || error.code === null);
  return envelopeOk ? null : `answered ${answer.status} without OpenAI's error envelope {error: {message, type, param, code}}: ${clip(answer.text)}`;
}

// ---------------------------------------------------------------------------------------------
// the server

const trainingJsonl =
  Array.from({ length: 12 }, (_, index) =>
    JSON.stringify({
      messages: [
        { role: "user", content: `Question ${index}?` },
        { role: "assistant", content: `Answer ${index}.` },
      ],
    }),
  ).join("\n") + "\n";
const tableCsv = "question,answer\n" + Array.from({ length: 6 }, (_, index) => `Question ${index}?,Answer ${index}.`).join("\n") + "\n";

/** what the estimate's planner answers (the real one runs the Python worker) */
async function stubPlan(): Promise<WorkerPlan> {
  return {
    v: 1,
    parameter_count: 1_000_000,
    trainable_parameter_count: 10_000,
    format: "chat",
    train_examples: 12,
    valid_examples: 0,
    train_tokens: 240,
    trained_tokens: 120,
    truncated_examples: 0,
    sequences: 12,
    steps_per_epoch: 3,
    total_steps: 9,
    epochs: 3,
    max_steps: null,
    resolved: { method: "lora", batch_size: 4, micro_batch_size: 4, learning_rate: 0.0002, max_seq_len: 1024, packing: true, device: "cpu", precision: "fp32", num_processes: 1 },
    memory: {
      device: "cpu",
      precision: "fp32",
      peak_bytes: 1 << 30,
      weights_bytes: 1 << 28,
      optimizer_bytes: 1 << 28,
      activation_bytes: 1 << 28,
      available_bytes: null,
      basis: "stub",
    },
  };
}

let dataDir: string;
let server: RunningServer;
let ownKey: string;
let otherKey: string;
let seeded: SeededIds;

async function upload(key: string, filename: string, content: string): Promise<string> {
  const form = new FormData();
  form.append("purpose", "fine-tune");
  form.append("file", new Blob([content]), filename);
  const response = await fetch(`${server.url}/v1/files`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: form });
  expect(response.status, await response.clone().text()).toBe(200);
  return ((await response.json()) as { id: string }).id;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tunekit-fuzz-"));
  // maxConcurrentJobs 0: jobs are validated and queued, none trains
  server = await startServer({ port: 0, dataDir, models: [BASE_MODEL], maxConcurrentJobs: 0, webRoot: null, planner: stubPlan });
  ownKey = (await server.services.keys.createKey("fuzz")).key;
  otherKey = (await server.services.keys.createKey("fuzz-other")).key;
  const trainingFileId = await upload(ownKey, "train.jsonl", trainingJsonl);
  const tableFileId = await upload(ownKey, "table.csv", tableCsv);
  const otherProjectFileId = await upload(otherKey, "other.jsonl", trainingJsonl);
  const createJob = async () => {
    const created = await fetch(`${server.url}/v1/fine_tuning/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${ownKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: BASE_MODEL, training_file: trainingFileId, suffix: "fuzz" }),
    });
    expect(created.status, await created.clone().text()).toBe(200);
    return ((await created.json()) as { id: string }).id;
  };
  seeded = { fileIds: [trainingFileId, tableFileId], jobIds: [await createJob()], otherProjectFileId, liveJobId: await createJob() };
});

afterAll(async () => {
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** operations in document order, deletes last (they remove the seeded ids the others use) */
function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, definition] of Object.entries(item)) {
      if (["get", "post", "put", "patch", "delete"].includes(method)) operations.push({ method: method.toUpperCase(), path, definition });
    }
  }
  return [...operations.filter((operation) => operation.method !== "DELETE"), ...operations.filter((operation) => operation.method === "DELETE")];
}

describe("property-based fuzz of every operation in /openapi.json", () => {
  it("answers every generated request below 500, every error as OpenAI's envelope, and still answers afterwards", async () => {
    const documentResponse = await fetch(`${server.url}/openapi.json`);
    expect(documentResponse.status).toBe(200);
    const document = (await documentResponse.json()) as OpenApiDocument;
    expect(document.openapi).toBe("3.0.3");
    const operations = operationsOf(document);
    expect(operations.length).toBeGreaterThan(30);

    const client = new FuzzClient(server.url, { own: ownKey, other: otherKey });
    const failures: string[] = [];
    const statusCounts: string[] = [];
    for (const operation of operations) {
      const isChat = operation.path.includes("chat/");
      const context: GenerationContext = { seeded, modelNames: isChat ? ["gpt-4o-mini", `ft:${BASE_MODEL}:fuzz:abcd1234`, "nope"] : [BASE_MODEL, "gpt-4o-mini", "nope"] };
      const counts = new Map<string, number>();
      const property = fc.asyncProperty(requestArbitrary(operation, document, context), async (plan) => {
        const answer = await client.send(plan);
        const bucket = answer === null ? "aborted" : answer.streamed ? `${answer.status} (stream)` : String(answer.status);
        counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
        if (answer === null) return;
        const problem = problemWith(answer);
        if (problem) throw new Error(`${problem}\n  request:\n  ${describeRequest(plan)}`);
      });
      // fc.check is fc.assert without the throw: every operation runs, and the report of a failure
      // prints the shrunk request clipped (fast-check's own message would print an 11 MiB body whole)
      const examples = examplePlans(operation, context).map((plan): [RequestPlan] => [plan]);
      const details = await fc.check(property, { seed: FUZZ_SEED, numRuns: RUNS_PER_OPERATION, examples });
      if (details.failed) {
        const reason = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
        failures.push(`${operation.method} ${operation.path} (seed ${details.seed}, path ${details.counterexamplePath}, after ${details.numShrinks} shrinks): ${reason}`);
      }
      statusCounts.push(`${operation.method} ${operation.path}: ${[...counts].map(([status, count]) => `${status}x${count}`).join(" ")}`);
    }
    console.log(`openapi fuzz: ${operations.length} operations x ${RUNS_PER_OPERATION} cases, seed ${FUZZ_SEED}\n${statusCounts.join("\n")}`);
    expect(failures, failures.join("\n\n")).toEqual([]);

    const health = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(5_000) });
    expect(health.status).toBe(200);
    const models = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${ownKey}` }, signal: AbortSignal.timeout(5_000) });
    expect(models.status).toBe(200);
    expect(((await models.json()) as { data: Array<{ id: string }> }).data.map((model) => model.id)).toContain(BASE_MODEL);
    // a machine busy with the cluster backends' tests (Ray's daemons share its cores) answers slower
  }, 300_000);
});
