import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { TunekitError } from "../../core/errors.js";
import defaultPrices from "../prices.json" with { type: "json" };

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a date as YYYY-MM-DD");

export const hostedPriceSchema = z.strictObject({
  provider: z.string().min(1).describe("Hosted provider, e.g. `openai`."),
  model: z.string().min(1).describe("Fine-tunable model snapshot, e.g. `gpt-4o-mini-2024-07-18`."),
  aliases: z.array(z.string().min(1)).default([]).describe("Other names that mean this model."),
  training_per_million: z.number().nonnegative().describe("Training price per 1M billed tokens."),
  max_training_context: z.number().int().positive().describe("Longest example the provider trains on; longer ones are billed at this cap."),
  as_of: z.string().min(1).describe("Date the price was read."),
  source: z.string().min(1).describe("Where the price was read (URL)."),
  fine_tuning_ends: isoDate.nullable().default(null).describe("First day the provider takes no new fine-tuning job for this model; null when none is announced."),
  shutdown: isoDate.nullable().default(null).describe("First day the model and every fine-tune of it stop answering; null when none is announced."),
  lifecycle_source: z.string().min(1).optional().describe("Where `fine_tuning_ends` and `shutdown` were read (URL)."),
  lifecycle_checked: isoDate.optional().describe("Day `fine_tuning_ends` and `shutdown` were last checked."),
});

export const priceTableSchema = z.strictObject({
  currency: z.string().min(1).default("USD"),
  unit: z.string().default("per 1M training tokens"),
  note: z.string().optional(),
  models: z.array(hostedPriceSchema).min(1),
});

export type HostedPrice = z.output<typeof hostedPriceSchema>;
export type PriceTable = z.output<typeof priceTableSchema>;

/** Where the installed package keeps its price table (the shape `--prices FILE` takes). */
export const SHIPPED_PRICE_TABLE = fileURLToPath(new URL("../prices.json", import.meta.url));

/** The price table shipped with Tunekit. */
export function defaultPriceTable(): PriceTable {
  return priceTableSchema.parse(defaultPrices);
}

/** Read and check a price table; `--prices FILE` has the shape of SHIPPED_PRICE_TABLE. */
export async function loadPriceTable(file?: string): Promise<PriceTable> {
  if (file === undefined) return defaultPriceTable();
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new TunekitError(`Cannot read the price table \`${file}\`: ${error instanceof Error ? error.message : String(error)}`, {
      kind: "usage",
      code: "invalid_price_table",
      field: "--prices",
      fix: `Pass a JSON file shaped like the shipped table, ${SHIPPED_PRICE_TABLE}.`,
      cause: error,
    });
  }
  const parsed = priceTableSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      code: issue.code,
      field: issue.path.join("."),
      message: `\`${issue.path.join(".")}\`: ${issue.message}`,
      file,
    }));
    throw new TunekitError(`The price table \`${file}\` has ${problems.length} problem(s)`, {
      kind: "usage",
      code: "invalid_price_table",
      field: "--prices",
      problems,
      fix: `Fix the fields listed, following the shape of the shipped table, ${SHIPPED_PRICE_TABLE}.`,
    });
  }
  return parsed.data;
}

/** The entry for a model name, snapshot, alias or `ft:` id; null when the table has none. */
export function findHostedPrice(table: PriceTable, model: string): HostedPrice | null {
  const base = model.startsWith("ft:") ? (model.split(":")[1] ?? model) : model;
  return table.models.find((entry) => entry.model === base || entry.aliases.includes(base)) ?? null;
}

/** Max training context of a hosted model from the shipped table; null when unknown. */
export function hostedTrainingContext(model: string): number | null {
  return findHostedPrice(defaultPriceTable(), model)?.max_training_context ?? null;
}

const OPENAI_NAME = /^(ft:)?(gpt-|o\d|chatgpt-|davinci|babbage)/i;

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/**
 * A hosted-looking model name the table does not know (`gpt-5`, `gpt-4o-mni`): one warning that it
 * cannot be fine-tuned as far as the table knows, with the nearest name the table has.
 */
export function unknownHostedModelWarning(table: PriceTable, model: string): string | null {
  if (!OPENAI_NAME.test(model) || findHostedPrice(table, model) !== null) return null;
  const base = model.startsWith("ft:") ? (model.split(":")[1] ?? model) : model;
  const names = table.models.flatMap((entry) => [entry.model, ...entry.aliases]);
  const nearest = names.map((name) => ({ name, distance: editDistance(base.toLowerCase(), name.toLowerCase()) })).sort((a, b) => a.distance - b.distance)[0];
  const suggestion = nearest && nearest.distance <= Math.max(2, Math.floor(base.length / 4)) ? ` Did you mean \`${nearest.name}\`?` : "";
  return `\`${model}\` is not in the price table's fine-tunable models (${table.models.map((entry) => entry.aliases[0] ?? entry.model).join(", ")}), so it cannot be fine-tuned as far as Tunekit knows, and its price and training context are unknown.${suggestion}`;
}
