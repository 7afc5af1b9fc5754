import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { TunekitError } from "../core/errors.js";
import type { ServedModel } from "../spec/inference-engine.js";
import { ADAPTER_CONFIG_FILE, RUN_FILES, RUN_FOLDERS } from "../spec/run-folder.js";
import type { ModelRegistry } from "./model-registry.js";

/** A run folder the worker wrote (summary.json with the resolved config, adapter/ or merged/). */
export function isRunDir(path: string): boolean {
  return existsSync(join(path, RUN_FILES.summary)) || existsSync(join(path, RUN_FOLDERS.adapter, ADAPTER_CONFIG_FILE));
}

/** The base model a run trained on, from its summary.json (or the adapter's config). */
export function runBaseModel(runDir: string): string {
  const summary = join(runDir, RUN_FILES.summary);
  if (existsSync(summary)) {
    const model = (JSON.parse(readFileSync(summary, "utf8")) as { resolved_config?: { model?: string } }).resolved_config?.model;
    if (model) return model;
  }
  const adapterConfig = join(runDir, RUN_FOLDERS.adapter, ADAPTER_CONFIG_FILE);
  if (existsSync(adapterConfig)) {
    const model = (JSON.parse(readFileSync(adapterConfig, "utf8")) as { base_model_name_or_path?: string }).base_model_name_or_path;
    if (model) return model;
  }
  throw new TunekitError(`cannot tell the base model of run \`${runDir}\``, {
    kind: "usage",
    code: "unknown_base_model",
    field: "MODEL",
    fix: "pass the base model as MODEL and the run as `--adapter NAME=RUN_DIR`",
  });
}

/** The id a model file or folder is served as: `SmolLM2-135M-Instruct.Q4_1.gguf` -> `SmolLM2-135M-Instruct.Q4_1`. */
export function servedIdOf(path: string): string {
  const name = basename(resolve(path));
  return name.endsWith(".gguf") ? name.slice(0, -".gguf".length) : name;
}

/**
 * The models of `tunekit serve MODEL [--adapter NAME=PATH ...]`: MODEL is a .gguf, an HF folder or a
 * finished run folder; each adapter is a run folder or (llama-cpp) a GGUF LoRA file, served as NAME on
 * MODEL's base.
 */
export async function standaloneModels(
  registry: ModelRegistry,
  engine: string,
  model: string,
  adapters: Array<{ name: string; path: string }>,
  name?: string,
): Promise<ServedModel[]> {
  const served: ServedModel[] = [];
  let base: string;
  const modelPath = resolve(model);
  if (existsSync(modelPath) && statSync(modelPath).isDirectory() && isRunDir(modelPath)) {
    const baseSource = runBaseModel(modelPath);
    const tuned = await registry.fromRun(name ?? servedIdOf(modelPath), modelPath, baseSource);
    served.push(tuned);
    base = await registry.baseFor(baseSource);
    served.push({ id: servedIdOf(baseSource), base, adapter: null });
  } else {
    base = await registry.baseFor(existsSync(modelPath) ? modelPath : model);
    served.push({ id: name ?? servedIdOf(model), base, adapter: null });
  }
  for (const adapter of adapters) {
    const path = resolve(adapter.path);
    if (existsSync(path) && statSync(path).isDirectory() && isRunDir(path)) {
      const tuned = await registry.fromRun(adapter.name, path, runBaseModel(path));
      served.push({ ...tuned, base });
    } else if (path.endsWith(".gguf") && existsSync(path) && engine === "llama-cpp") {
      served.push({ id: adapter.name, base, adapter: path });
    } else if (existsSync(join(path, ADAPTER_CONFIG_FILE)) && engine !== "llama-cpp") {
      served.push({ id: adapter.name, base, adapter: path });
    } else {
      throw new TunekitError(`\`--adapter ${adapter.name}=${adapter.path}\` is not a run folder${engine === "llama-cpp" ? " or a GGUF LoRA file" : " or a PEFT adapter folder"}`, {
        kind: "usage",
        code: "bad_adapter",
        field: "--adapter",
        fix: "pass a finished run folder (it holds adapter/ and summary.json)",
      });
    }
  }
  return served;
}
