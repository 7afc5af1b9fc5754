import { isMap, parseDocument, type Document } from "yaml";

/**
 * The job form comes from the run config's JSON Schema (GET /v1/tunekit/config/schema, generated
 * from the zod schema on the server): each field's label, description, default, bounds and choices
 * are read from it here, never written into the page. The form and the YAML view edit one YAML
 * document, so an edit on either side shows on the other and YAML comments survive form edits.
 */

export type JsonSchema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  enumDescriptions?: string[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  maxLength?: number;
  title?: string;
};

export type FieldKind =
  /** a choice of strings */
  | "enum"
  | "boolean"
  | "number"
  | "integer"
  /** a literal (`auto`) or a number */
  | "literal-or-number"
  /** a literal (`all-linear`) or a list of strings */
  | "literal-or-list"
  | "string"
  /** a string, or null (empty) */
  | "nullable-string"
  /** a number, or null (empty) */
  | "nullable-number";

export interface FieldSpec {
  path: string[];
  id: string;
  label: string;
  description: string;
  kind: FieldKind;
  integer: boolean;
  options: string[];
  optionDescriptions: string[];
  literal: string | null;
  minimum: number | null;
  maximum: number | null;
  /** a strict lower bound (`positive()`) */
  exclusiveMinimum: number | null;
  default: unknown;
}

/** The schema node at a dotted path of object properties. */
export function schemaAt(schema: JsonSchema, path: readonly string[]): JsonSchema | null {
  let node: JsonSchema | undefined = schema;
  for (const key of path) {
    node = node?.properties?.[key];
    if (!node) return null;
  }
  return node ?? null;
}

/** Describe one field of the schema (null when the path is not a field). */
export function fieldSpec(schema: JsonSchema, path: readonly string[]): FieldSpec | null {
  const node = schemaAt(schema, path);
  if (!node) return null;
  const key = path[path.length - 1] as string;
  const base: FieldSpec = {
    path: [...path],
    id: `field-${path.join("-")}`,
    label: node.title ?? labelOf(key),
    description: node.description ?? "",
    kind: "string",
    integer: false,
    options: [],
    optionDescriptions: node.enumDescriptions ?? [],
    literal: null,
    minimum: null,
    maximum: null,
    exclusiveMinimum: null,
    default: node.default,
  };
  const bounds = (source: JsonSchema) => ({
    minimum: source.minimum ?? null,
    maximum: source.maximum ?? source.exclusiveMaximum ?? null,
    exclusiveMinimum: source.exclusiveMinimum ?? null,
    integer: source.type === "integer",
  });
  if (node.enum) return { ...base, kind: "enum", options: node.enum.map(String) };
  if (node.anyOf) {
    const literal = node.anyOf.find((branch) => branch.const !== undefined);
    const other = node.anyOf.find((branch) => branch.const === undefined && branch.type !== "null");
    const nullable = node.anyOf.some((branch) => branch.type === "null");
    if (literal && other && (other.type === "number" || other.type === "integer")) return { ...base, kind: "literal-or-number", literal: String(literal.const), ...bounds(other) };
    if (literal && other?.type === "array") return { ...base, kind: "literal-or-list", literal: String(literal.const) };
    if (nullable && other && (other.type === "number" || other.type === "integer")) return { ...base, kind: "nullable-number", ...bounds(other) };
    if (nullable && other?.type === "string") return { ...base, kind: "nullable-string" };
  }
  const types = Array.isArray(node.type) ? node.type : [node.type];
  if (types.includes("null") && types.includes("string")) return { ...base, kind: "nullable-string" };
  if (types.includes("null") && (types.includes("integer") || types.includes("number")))
    return { ...base, kind: "nullable-number", ...bounds({ ...node, type: types.includes("integer") ? "integer" : "number" }) };
  if (node.type === "boolean") return { ...base, kind: "boolean" };
  if (node.type === "integer" || node.type === "number") return { ...base, kind: node.type, ...bounds(node) };
  return base;
}

/** Every leaf field under a section (objects flattened: `training.lora.r`), in schema order. */
export function fieldsUnder(schema: JsonSchema, path: readonly string[]): FieldSpec[] {
  const node = schemaAt(schema, path);
  const fields: FieldSpec[] = [];
  for (const [key, child] of Object.entries(node?.properties ?? {})) {
    if (child.type === "object" && child.properties) fields.push(...fieldsUnder(schema, [...path, key]));
    else {
      const spec = fieldSpec(schema, [...path, key]);
      if (spec) fields.push(spec);
    }
  }
  return fields;
}

/** `learning_rate_multiplier` -> `Learning rate multiplier`; `max_seq_len` -> `Max seq len`. */
export function labelOf(key: string): string {
  const words = key.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The field's bounds as a sentence for its help text ("1 to 100", "> 0"). */
export function boundsText(field: FieldSpec): string {
  const low = field.exclusiveMinimum !== null ? `> ${field.exclusiveMinimum}` : field.minimum !== null ? `≥ ${field.minimum}` : null;
  const high = field.maximum !== null ? `≤ ${field.maximum}` : null;
  if (field.minimum !== null && field.maximum !== null) return `${field.minimum} to ${field.maximum}`;
  return [low, high].filter(Boolean).join(", ");
}

/**
 * What a form input's text means for a field: undefined = not set (the default applies), else
 * the value to write; `error` when the text cannot be that field's value.
 */
export function parseInput(field: FieldSpec, text: string): { value?: unknown; error?: string } {
  const trimmed = text.trim();
  if (trimmed === "") return {};
  switch (field.kind) {
    case "literal-or-number":
    case "number":
    case "integer":
    case "nullable-number": {
      if (field.literal !== null && trimmed === field.literal) return { value: field.literal };
      const number = Number(trimmed);
      if (!Number.isFinite(number)) return { error: `${field.label}: enter a number${field.literal ? ` or \`${field.literal}\`` : ""}` };
      if (field.integer && !Number.isInteger(number)) return { error: `${field.label}: enter a whole number` };
      return { value: number };
    }
    case "literal-or-list":
      if (field.literal !== null && trimmed === field.literal) return { value: field.literal };
      return {
        value: trimmed
          .split(",")
          .map((item) => item.trim())
          .filter(Boolean),
      };
    case "boolean":
      return { value: trimmed === "true" };
    default:
      return { value: text };
  }
}

/** The text a form input shows for a value (empty when unset). */
export function formatInput(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

/** One YAML document edited by both the form and the YAML view. */
export class ConfigDocument {
  private document: Document.Parsed;

  constructor(text = "") {
    this.document = parseDocument(text);
  }

  /** The YAML text (comments and key order kept). */
  get text(): string {
    return this.document.contents === null ? "" : this.document.toString();
  }

  get errors(): Array<{ line: number | null; message: string }> {
    return this.document.errors.map((error) => ({ line: error.linePos?.[0].line ?? null, message: error.message.split("\n")[0] ?? error.message }));
  }

  /** Replace the text (the YAML view was edited). Returns false, keeping the old document, when the text does not parse. */
  setText(text: string): boolean {
    const next = parseDocument(text);
    if (next.errors.length > 0) return false;
    this.document = next;
    return true;
  }

  /** The config as a plain object. */
  get value(): Record<string, unknown> {
    const value = this.document.toJS() as unknown;
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  }

  get(path: readonly string[]): unknown {
    const node = this.document.getIn(path as string[]) as unknown;
    return node && typeof node === "object" && "toJSON" in node ? (node as { toJSON(): unknown }).toJSON() : node;
  }

  /** Set a field; undefined removes it (and parents left empty). */
  set(path: readonly string[], value: unknown): void {
    if (value === undefined) {
      if (this.document.hasIn(path as string[])) this.document.deleteIn(path as string[]);
      for (let depth = path.length - 1; depth > 0; depth--) {
        const parent = this.document.getIn(path.slice(0, depth) as string[], true);
        if (isMap(parent) && parent.items.length === 0) this.document.deleteIn(path.slice(0, depth) as string[]);
      }
      return;
    }
    if (this.document.contents === null) this.document.contents = this.document.createNode({}) as never;
    // lists in flow style (`[q_proj, v_proj]`); a mapping becomes a YAML mapping, so its keys can be read and set one by one
    this.document.setIn(
      path as string[],
      Array.isArray(value) ? this.document.createNode(value, { flow: true }) : value !== null && typeof value === "object" ? this.document.createNode(value) : value,
    );
  }
}
