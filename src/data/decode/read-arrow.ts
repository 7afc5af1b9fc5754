import { RecordBatchReader } from "apache-arrow";
import { TunekitError } from "../../core/errors.js";

/**
 * Rows of an Arrow IPC file, stream format (what Hugging Face `save_to_disk` writes) or file
 * format, read one record batch at a time with apache-arrow, as plain JSON-like objects.
 */
export interface ArrowRows {
  columns: string[];
  rows: AsyncGenerator<Record<string, unknown>>;
}

export async function readArrowRows(path: string, bytes: AsyncIterable<Uint8Array>, wanted?: readonly string[]): Promise<ArrowRows> {
  let reader: Awaited<ReturnType<typeof openReader>>;
  try {
    reader = await openReader(bytes);
  } catch (error) {
    throw invalidArrow(path, error);
  }
  const columns = reader.schema.fields.map((field) => field.name);
  const selected = wanted === undefined ? columns : columns.filter((name) => wanted.includes(name));
  async function* rows(): AsyncGenerator<Record<string, unknown>> {
    try {
      for await (const batch of reader) {
        const vectors = selected.map((name) => [name, batch.getChild(name)] as const);
        for (let index = 0; index < batch.numRows; index++) {
          const row: Record<string, unknown> = {};
          for (const [name, vector] of vectors) row[name] = plainArrowValue(vector?.get(index) ?? null);
          yield row;
        }
      }
    } catch (error) {
      if (error instanceof TunekitError) throw error;
      throw invalidArrow(path, error);
    }
  }
  return { columns, rows: rows() };
}

async function openReader(bytes: AsyncIterable<Uint8Array>) {
  const reader = await RecordBatchReader.from(bytes);
  await reader.open();
  return reader;
}

function invalidArrow(path: string, error: unknown): TunekitError {
  return new TunekitError(`\`${path}\` is not a readable Arrow file (${(error as Error).message})`, {
    kind: "data",
    code: "invalid_arrow",
    file: path,
    fix: "check the file is complete; re-save the dataset with `Dataset.save_to_disk`, or export it as JSONL (`dataset.to_json(path)`)",
    cause: error,
  });
}

/** Arrow values (vectors, struct rows, bigints, typed arrays) as plain JSON values. */
export function plainArrowValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (typeof value !== "object") return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plainArrowValue);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, plainArrowValue);
  const candidate = value as { toArray?: unknown; type?: unknown; toJSON?: () => unknown; [Symbol.iterator]?: unknown };
  // a Vector (a list column's value): iterate its elements
  if (typeof candidate.toArray === "function" && candidate.type !== undefined && typeof candidate[Symbol.iterator] === "function") {
    return Array.from(value as Iterable<unknown>, plainArrowValue);
  }
  // a StructRow or MapRow: its fields
  const entries = typeof candidate.toJSON === "function" ? candidate.toJSON() : value;
  if (entries === null || typeof entries !== "object") return plainArrowValue(entries);
  const result: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(entries as Record<string, unknown>)) result[key] = plainArrowValue(entry);
  return result;
}
