import { existsSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { extname, join, resolve } from "node:path";
import { TunekitError } from "./errors.js";

const DATASET_EXTENSIONS = new Set([".jsonl", ".json", ".csv", ".tsv", ".parquet", ".gz", ".zst", ".txt"]);
const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** `org/name` that is not a path on this machine: a Hugging Face Hub id. */
export function looksLikeHubId(model: string): boolean {
  return HUB_ID.test(model) && !model.startsWith(".") && !existsSync(model);
}

/** The local copy of a hub id in the Hugging Face cache, or null (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub). */
export function hubCacheCopy(model: string, environment: NodeJS.ProcessEnv = process.env): string | null {
  const roots = [
    environment.HF_HUB_CACHE,
    environment.HF_HOME && join(environment.HF_HOME, "hub"),
    join(environment.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface", "hub"),
  ].filter((root): root is string => Boolean(root));
  for (const root of roots) {
    const snapshots = join(root, `models--${model.replace("/", "--")}`, "snapshots");
    if (existsSync(snapshots) && readdirSync(snapshots).length > 0) return snapshots;
  }
  return null;
}

export interface ModelSourceOptions {
  /** the flag or argument that named it (`--model`, `<model>`) */
  field: string;
  /** `tunekit serve` also takes a finished run folder */
  allowRunDir?: boolean;
  environment?: NodeJS.ProcessEnv;
}

/**
 * Refuse, before anything starts, a model that cannot be loaded: a path that does not exist, a
 * dataset file, a folder that holds no model, or a hub id with no local copy (this machine does
 * not download from the Hub; the worker would fail on the first request or job instead).
 */
export function checkModelSource(model: string, options: ModelSourceOptions): void {
  const { field } = options;
  const path = resolve(model);
  const named = field.startsWith("-") ? `${field} ${model}` : model;
  if (existsSync(path)) {
    const info = statSync(path);
    if (info.isFile()) {
      if (model.endsWith(".gguf")) return;
      if (DATASET_EXTENSIONS.has(extname(model).toLowerCase())) {
        throw new TunekitError(`\`${named}\` is a dataset file, not a model`, {
          kind: "usage",
          code: "not_a_model",
          field,
          fix: "pass a model (a .gguf file or an HF model folder with config.json); to train on this file, use `tunekit train` with `data.train` set to it",
        });
      }
      throw new TunekitError(`\`${named}\` is not a model: a model is a .gguf file or an HF model folder`, {
        kind: "usage",
        code: "not_a_model",
        field,
        fix: "pass a .gguf file or a folder with config.json and the weights",
      });
    }
    const isHfFolder = existsSync(join(path, "config.json"));
    // the run-folder names of spec/run-folder.ts, spelled out: core imports no other room
    const isRun = existsSync(join(path, "summary.json")) || existsSync(join(path, "adapter", "adapter_config.json"));
    if (isHfFolder || (options.allowRunDir && isRun)) return;
    const ggufs = readdirSync(path).filter((name) => name.endsWith(".gguf"));
    throw new TunekitError(`\`${named}\` is a folder without a model in it (no config.json${options.allowRunDir ? ", not a run folder" : ""})`, {
      kind: "usage",
      code: "not_a_model",
      field,
      fix:
        ggufs.length > 0 ? `pass the .gguf file itself, e.g. ${field} ${join(model, ggufs[0]!)}` : "pass an HF model folder (config.json, tokenizer and weights) or a .gguf file",
    });
  }
  if (looksLikeHubId(model) && !model.endsWith(".gguf")) {
    if (hubCacheCopy(model, options.environment)) return;
    const name = model.split("/")[1]!;
    throw new TunekitError(`\`${named}\` is a Hugging Face Hub id with no local copy, and this machine serves and trains only local copies`, {
      kind: "usage",
      code: "model_not_local",
      field,
      fix: `download it where a network exists (\`hf download ${model} --local-dir ./models/${name}\`) and pass ${field} ./models/${name}`,
    });
  }
  throw new TunekitError(`\`${named}\`: no such file or folder (${path})`, {
    kind: "usage",
    code: "model_not_found",
    field,
    fix: "check the path (it is relative to the current directory); a model is a .gguf file or an HF model folder",
  });
}
