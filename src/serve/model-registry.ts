import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { TunekitError } from "../core/errors.js";
import type { BaseModelLookup } from "../spec/base-model-lookup.js";
import type { FineTunedModelLookup } from "../spec/fine-tuned-model-lookup.js";
import type { ServedModel } from "../spec/inference-engine.js";
import { ADAPTER_CONFIG_FILE, RUN_FOLDERS } from "../spec/run-folder.js";
import type { WorkerExporter } from "./worker-exporter.js";

export type EngineKind = "llama-cpp" | "python" | "vllm";

export interface ModelRegistryOptions {
  engine: EngineKind;
  /** base models by id (the server's catalog) */
  catalog?: BaseModelLookup | null;
  /** `ft:` ids of succeeded jobs (and their checkpoints) resolve to run folders through it (the job store) */
  fineTuned?: FineTunedModelLookup | null;
  /** models served under fixed ids (`tunekit serve MODEL`) */
  fixed?: ServedModel[];
  /** where converted GGUFs of HF bases are kept */
  cacheDir: string;
  exporter: WorkerExporter;
}

/**
 * Maps a request's `model` to what an engine loads. For llama-cpp everything becomes GGUF on first
 * use (and is kept): an HF base is converted once, a LoRA run gets `<run>/export/serve/adapter.gguf`,
 * a full fine-tune gets its merged weights converted. Python and vLLM take the HF forms as they are.
 */
export class ModelRegistry {
  private readonly conversions = new Map<string, Promise<string>>();

  constructor(private readonly options: ModelRegistryOptions) {}

  async resolve(projectId: string | null, id: string): Promise<ServedModel> {
    const fixed = this.options.fixed?.find((model) => model.id === id);
    if (fixed) return fixed;
    if (id.startsWith("ft:")) return this.fineTuned(projectId, id);
    const base = this.options.catalog?.resolve(id);
    if (!base) throw notFound(id);
    return { id, base: await this.baseFor(base.source), adapter: null };
  }

  /** Listed ids (for `tunekit serve`'s /v1/models). */
  fixedIds(): string[] {
    return (this.options.fixed ?? []).map((model) => model.id);
  }

  private async fineTuned(projectId: string | null, id: string): Promise<ServedModel> {
    const record = await this.options.fineTuned?.find(projectId, id);
    if (!record) throw notFound(id);
    const base = this.options.catalog?.resolve(record.baseModel);
    if (!base)
      throw new TunekitError(`the base model \`${record.baseModel}\` of \`${id}\` is no longer on this server`, {
        kind: "not_found",
        code: "model_not_found",
        field: "model",
        fix: "start the server with that base model (`--model`)",
      });
    if (record.checkpointPath) return this.fromCheckpoint(id, record.checkpointPath, base.source);
    if (record.status !== "succeeded" || !record.runDir) {
      throw new TunekitError(`model \`${id}\` is not ready: its job ${record.jobId} is ${record.status}`, {
        kind: "not_found",
        code: "model_not_found",
        field: "model",
        fix: "wait for the job to succeed (`tunekit jobs show`)",
      });
    }
    return this.fromRun(id, record.runDir, base.source);
  }

  /**
   * A checkpoint of a LoRA run (a PEFT adapter folder): served like a finished run whose adapter is
   * that checkpoint. The export sees it as `<folder>/run/adapter` (a link to the checkpoint).
   */
  async fromCheckpoint(id: string, checkpointPath: string, baseSource: string): Promise<ServedModel> {
    if (!existsSync(join(checkpointPath, ADAPTER_CONFIG_FILE))) {
      throw new TunekitError(`checkpoint \`${id}\` holds full weights, not an adapter: only LoRA checkpoints are served`, {
        kind: "not_found",
        code: "model_not_found",
        field: "model",
        fix: "serve the job's final model, or export the checkpoint with `tunekit export`",
      });
    }
    if (this.options.engine !== "llama-cpp") return { id, base: baseSource, adapter: checkpointPath };
    const folder = join(checkpointPath, "..", "..", RUN_FOLDERS.export, `serve-${basename(checkpointPath)}`);
    const run = join(folder, "run");
    if (!existsSync(join(run, RUN_FOLDERS.adapter))) {
      mkdirSync(run, { recursive: true });
      symlinkSync(resolve(checkpointPath), join(run, RUN_FOLDERS.adapter), "dir");
    }
    const adapter = await this.once(join(folder, "adapter.gguf"), () =>
      this.options.exporter.exportRun(run, "gguf-adapter", folder, { model: baseSource }).then((result) => result.adapter_gguf!),
    );
    return { id, base: await this.baseFor(baseSource), adapter };
  }

  /** A served model from a finished run folder and its base model source. */
  async fromRun(id: string, runDir: string, baseSource: string): Promise<ServedModel> {
    const adapterDir = join(runDir, RUN_FOLDERS.adapter);
    const hasAdapter = existsSync(join(adapterDir, ADAPTER_CONFIG_FILE));
    if (this.options.engine !== "llama-cpp") {
      if (hasAdapter) return { id, base: baseSource, adapter: adapterDir };
      return { id, base: join(runDir, RUN_FOLDERS.merged), adapter: null };
    }
    if (!hasAdapter) {
      const merged = join(runDir, RUN_FOLDERS.merged);
      if (!existsSync(join(merged, "config.json")))
        throw new TunekitError(`run folder \`${runDir}\` has no adapter or merged model`, { kind: "not_found", code: "model_not_found", field: "model" });
      const out = join(runDir, RUN_FOLDERS.export, "serve", "model-f16.gguf");
      return { id, base: await this.once(out, () => this.options.exporter.convertToGguf(merged, out, "f16").then((result) => result.merged_gguf!)), adapter: null };
    }
    const out = join(runDir, RUN_FOLDERS.export, "serve");
    const adapter = await this.once(join(out, "adapter.gguf"), () =>
      this.options.exporter.exportRun(runDir, "gguf-adapter", out, { model: baseSource }).then((result) => result.adapter_gguf!),
    );
    return { id, base: await this.baseFor(baseSource), adapter };
  }

  /** The GGUF an engine loads for a base model source. */
  async baseFor(source: string): Promise<string> {
    if (this.options.engine !== "llama-cpp" || source.endsWith(".gguf")) return source;
    const ggufInFolder = existsSync(source) ? singleGguf(source) : null;
    if (ggufInFolder) return ggufInFolder;
    const digest = createHash("sha256").update(resolve(source)).digest("hex").slice(0, 12);
    const out = join(this.options.cacheDir, `${basename(source)}-${digest}`, "base-f16.gguf");
    return this.once(out, () => this.options.exporter.convertToGguf(source, out, "f16").then((result) => result.merged_gguf!));
  }

  /** Produce `path` once (concurrent callers share the work; a file already there is reused). */
  private once(path: string, produce: () => Promise<string>): Promise<string> {
    if (existsSync(path)) return Promise.resolve(path);
    let pending = this.conversions.get(path);
    if (!pending) {
      pending = produce().finally(() => this.conversions.delete(path));
      this.conversions.set(path, pending);
    }
    return pending;
  }
}

/** A model folder holding exactly one .gguf (and no config.json) is that GGUF. */
function singleGguf(folder: string): string | null {
  try {
    if (existsSync(join(folder, "config.json"))) return null;
    const ggufs = readdirSync(folder).filter((name) => name.endsWith(".gguf"));
    return ggufs.length === 1 ? join(folder, ggufs[0]!) : null;
  } catch {
    return null;
  }
}

function notFound(id: string): TunekitError {
  return new TunekitError(`no model \`${id}\` to serve`, { kind: "not_found", code: "model_not_found", field: "model", fix: "list models with GET /v1/models" });
}
