import { existsSync, readdirSync, statSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import type { ModelInfo } from "../spec/tunekit-wire.js";
import type { BaseModel } from "./model-catalog.js";

/**
 * What the base-model catalogue shows of each model without loading it: parameters (from the
 * safetensors headers or the GGUF tensor table), bytes on disk, context length and architecture
 * (config.json or GGUF metadata), and the shape numbers the memory estimate needs. A hub id with
 * no local copy is listed with what is unknown left null.
 */
const cache = new Map<string, { mtimeMs: number; info: ModelInfo }>();

export async function describeModel(model: BaseModel): Promise<ModelInfo> {
  const stamp = existsSync(model.source) ? statSync(model.source).mtimeMs : 0;
  const cached = cache.get(model.source);
  if (cached && cached.mtimeMs === stamp) return { ...cached.info, id: model.id };
  const info = await readModelInfo(model).catch((): ModelInfo => ({
    ...unknownModel(model),
    kind: existsSync(model.source) ? (model.source.endsWith(".gguf") ? "gguf" : "hf-folder") : "hub",
  }));
  cache.set(model.source, { mtimeMs: stamp, info });
  return info;
}

function unknownModel(model: BaseModel): ModelInfo {
  return {
    id: model.id,
    source: model.source,
    kind: "hub",
    architecture: null,
    parameters: null,
    bytes: null,
    context_length: null,
    hidden_size: null,
    layers: null,
    vocab_size: null,
    weights: null,
    created: model.created,
  };
}

async function readModelInfo(model: BaseModel): Promise<ModelInfo> {
  if (!existsSync(model.source)) return unknownModel(model);
  const ggufFile = model.source.endsWith(".gguf") ? model.source : singleGguf(model.source);
  if (ggufFile) return readGgufInfo(model, ggufFile);
  return readFolderInfo(model);
}

async function readGgufInfo(model: BaseModel, file: string): Promise<ModelInfo> {
  const { metadata, tensorInfos, parameterCount } = await gguf(file, { allowLocalFile: true, computeParametersCount: true });
  const values = metadata as unknown as Record<string, unknown>;
  const architecture = typeof values["general.architecture"] === "string" ? (values["general.architecture"] as string) : null;
  const number = (key: string) =>
    typeof values[`${architecture}.${key}`] === "number"
      ? (values[`${architecture}.${key}`] as number)
      : typeof values[`${architecture}.${key}`] === "bigint"
        ? Number(values[`${architecture}.${key}`])
        : null;
  const tokens = values["tokenizer.ggml.tokens"];
  const fileType = values["general.file_type"];
  return {
    id: model.id,
    source: model.source,
    kind: "gguf",
    architecture,
    parameters: parameterCount ?? tensorInfos.reduce((sum, tensor) => sum + tensor.shape.reduce((product, size) => product * Number(size), 1), 0),
    bytes: statSync(file).size,
    context_length: number("context_length"),
    hidden_size: number("embedding_length"),
    layers: number("block_count"),
    vocab_size: Array.isArray(tokens) ? tokens.length : null,
    weights: typeof fileType === "number" ? (GGUF_FILE_TYPES[fileType] ?? `type ${fileType}`) : null,
    created: model.created,
  };
}

async function readFolderInfo(model: BaseModel): Promise<ModelInfo> {
  const config = JSON.parse(await readFile(join(model.source, "config.json"), "utf8")) as Record<string, unknown>;
  const text = (config.text_config && typeof config.text_config === "object" ? config.text_config : config) as Record<string, unknown>;
  const number = (...keys: string[]) => {
    for (const key of keys) if (typeof text[key] === "number") return text[key] as number;
    return null;
  };
  let parameters = 0;
  let bytes = 0;
  let dtype: string | null = null;
  for (const name of readdirSync(model.source)) {
    if (!name.endsWith(".safetensors")) continue;
    const path = join(model.source, name);
    bytes += statSync(path).size;
    const header = await safetensorsHeader(path);
    for (const [key, tensor] of Object.entries(header)) {
      if (key === "__metadata__") continue;
      const { shape, dtype: tensorDtype } = tensor as { shape: number[]; dtype: string };
      parameters += shape.reduce((product, size) => product * size, 1);
      dtype ??= tensorDtype;
    }
  }
  return {
    id: model.id,
    source: model.source,
    kind: "hf-folder",
    architecture: Array.isArray(config.architectures) ? String(config.architectures[0]) : typeof config.model_type === "string" ? config.model_type : null,
    parameters: parameters > 0 ? parameters : null,
    bytes: bytes > 0 ? bytes : null,
    context_length: number("max_position_embeddings", "n_positions", "max_sequence_length"),
    hidden_size: number("hidden_size", "n_embd", "d_model"),
    layers: number("num_hidden_layers", "n_layer", "num_layers"),
    vocab_size: number("vocab_size"),
    weights: dtype,
    created: model.created,
  };
}

/** The JSON header of a safetensors file (8-byte little-endian length, then JSON). */
async function safetensorsHeader(path: string): Promise<Record<string, unknown>> {
  const handle = await open(path, "r");
  try {
    const length = Buffer.alloc(8);
    await handle.read(length, 0, 8, 0);
    const size = Number(length.readBigUInt64LE(0));
    const header = Buffer.alloc(size);
    await handle.read(header, 0, size, 8);
    return JSON.parse(header.toString("utf8")) as Record<string, unknown>;
  } finally {
    await handle.close();
  }
}

function singleGguf(folder: string): string | null {
  try {
    if (!statSync(folder).isDirectory() || existsSync(join(folder, "config.json"))) return null;
    const files = readdirSync(folder).filter((name) => name.endsWith(".gguf"));
    return files.length === 1 ? join(folder, files[0] as string) : null;
  } catch {
    return null;
  }
}

/** llama.cpp's `general.file_type` values (LLAMA_FTYPE_*). */
const GGUF_FILE_TYPES: Record<number, string> = {
  0: "F32",
  1: "F16",
  2: "Q4_0",
  3: "Q4_1",
  7: "Q8_0",
  8: "Q5_0",
  9: "Q5_1",
  10: "Q2_K",
  11: "Q3_K_S",
  12: "Q3_K_M",
  13: "Q3_K_L",
  14: "Q4_K_S",
  15: "Q4_K_M",
  16: "Q5_K_S",
  17: "Q5_K_M",
  18: "Q6_K",
  32: "BF16",
};
