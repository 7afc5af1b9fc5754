import { stringify } from "yaml";
import { z } from "zod";
import { configSchema } from "./config-schema.js";

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let depth = 0; depth < 8; depth++) {
    if (current instanceof z.ZodObject) return current;
    const inner = (current as unknown as { _zod: { def: { innerType?: z.ZodType } } })._zod.def.innerType;
    if (!inner) return current;
    current = inner;
  }
  return current;
}

function renderObject(schema: z.ZodObject, value: Record<string, unknown>, indent: string, lines: string[]): void {
  for (const [key, fieldSchema] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    const description = fieldSchema.description;
    if (description) lines.push(`${indent}# ${description}`);
    const inner = unwrap(fieldSchema);
    if (inner instanceof z.ZodObject) {
      lines.push(`${indent}${key}:`);
      renderObject(inner, value[key] as Record<string, unknown>, `${indent}  `, lines);
    } else {
      const rendered = stringify(value[key], { collectionStyle: "flow" }).trimEnd();
      lines.push(`${indent}${key}: ${rendered}`);
    }
  }
}

/**
 * A commented starter `tunekit.yaml`, generated from the schema so that it can never drift:
 * each field is preceded by its description and set to its default (or to `values`).
 */
export function renderStarterConfig(values: Record<string, unknown> = {}): string {
  const merged = configSchema.parse(values) as Record<string, unknown>;
  const lines = [
    "# tunekit.yaml: the run config. Every field is optional; shown here with its default.",
    "# Check it with `tunekit config show` (data files, model, provider and method) before `tunekit train`;",
    '# override any field with --set a.b=value (text that looks like a number in quotes: suffix: "2024"; a list: [a, b]).',
    "# yaml-language-server: $schema=./tunekit.schema.json",
  ];
  renderObject(configSchema, merged, "", lines);
  return `${lines.join("\n")}\n`;
}
