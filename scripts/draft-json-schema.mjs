#!/usr/bin/env node
// Drafts a JSON Schema from sample `--json` outputs of a command (each argument a JSON file, or
// stdin): the starting point of a schema under schemas/cli/, to be read and tightened by hand.
// Keys present in every sample are required; objects are closed (additionalProperties: false)
// except the user-data maps the CLI keeps as given (metadata, columns, mapping, ...).
import { readFileSync } from "node:fs";

const DATA_MAPS = new Set(["metadata", "columns", "mapping", "map", "column_map", "env", "headers"]);

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (Number.isInteger(value)) return "integer";
  return typeof value;
}

function infer(samples, open = false) {
  const types = new Set(samples.map(typeOf));
  if (types.has("integer") && types.has("number")) types.delete("integer");
  const schema = {};
  const list = [...types];
  schema.type = list.length === 1 ? list[0] : list;
  const objects = samples.filter((value) => typeOf(value) === "object");
  if (objects.length > 0) {
    if (open) {
      schema.additionalProperties = true;
    } else {
      const keys = [...new Set(objects.flatMap((object) => Object.keys(object)))];
      schema.properties = Object.fromEntries(
        keys.map((key) => [
          key,
          infer(
            objects.filter((object) => key in object).map((object) => object[key]),
            DATA_MAPS.has(key),
          ),
        ]),
      );
      schema.required = keys.filter((key) => objects.every((object) => key in object));
      schema.additionalProperties = false;
    }
  }
  const arrays = samples.filter((value) => Array.isArray(value));
  const items = arrays.flat();
  if (arrays.length > 0 && items.length > 0) schema.items = infer(items, open);
  return schema;
}

const inputs = process.argv.length > 2 ? process.argv.slice(2).map((file) => readFileSync(file, "utf8")) : [readFileSync(0, "utf8")];
const samples = inputs.map((text) => JSON.parse(text));
process.stdout.write(`${JSON.stringify({ $schema: "https://json-schema.org/draft/2020-12/schema", ...infer(samples) }, null, 2)}\n`);
