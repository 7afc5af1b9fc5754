import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { BaseModelLookup } from "../spec/base-model-lookup.js";

export interface BaseModel {
  /** the id users pass as `model` */
  id: string;
  /** what the worker loads: an absolute path (HF folder or .gguf) or a hub id */
  source: string;
  /** unix seconds */
  created: number;
}

export interface ModelCatalogOptions {
  /** model ids or paths named on the command line (`--model`), hub ids included */
  models?: readonly string[];
  /** folder whose HF model folders (with config.json) and `.gguf` files are trainable base models */
  modelsDir?: string | null;
}

/** The base models this server can train: configured ones plus what the models folder holds. */
export class ModelCatalog implements BaseModelLookup {
  constructor(private readonly options: ModelCatalogOptions) {}

  baseModels(): BaseModel[] {
    const found = new Map<string, BaseModel>();
    for (const entry of this.options.models ?? []) {
      const path = resolve(entry);
      if (existsSync(path)) found.set(modelIdOf(path), { id: modelIdOf(path), source: path, created: createdOf(path) });
      else found.set(entry, { id: entry, source: entry, created: 0 });
    }
    const folder = this.options.modelsDir;
    if (folder && existsSync(folder)) {
      for (const name of readdirSync(folder).sort()) {
        const path = resolve(folder, name);
        const isModelFolder = existsSync(join(path, "config.json")) || readdirSafe(path).some((file) => file.endsWith(".gguf"));
        const isGguf = name.endsWith(".gguf") && isFile(path);
        if ((isModelFolder || isGguf) && !found.has(modelIdOf(path))) found.set(modelIdOf(path), { id: modelIdOf(path), source: path, created: createdOf(path) });
      }
    }
    return [...found.values()];
  }

  resolve(id: string): BaseModel | null {
    return this.baseModels().find((model) => model.id === id) ?? null;
  }
}

/** `SmolLM2-135M-Instruct.Q4_1.gguf` -> `SmolLM2-135M-Instruct.Q4_1`; a folder keeps its name. */
export function modelIdOf(path: string): string {
  const name = basename(path);
  return name.endsWith(".gguf") ? name.slice(0, -".gguf".length) : name;
}

function createdOf(path: string): number {
  try {
    return Math.floor(statSync(path).mtimeMs / 1000);
  } catch {
    return 0;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function readdirSafe(path: string): string[] {
  try {
    return statSync(path).isDirectory() ? readdirSync(path) : [];
  } catch {
    return [];
  }
}
