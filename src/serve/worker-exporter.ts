import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { PythonWorker } from "../spec/python-worker.js";

export type ExportFormat = "hf" | "gguf" | "ollama" | "gguf-adapter";
export type ExportQuant = "f32" | "f16" | "q8_0" | "q4_k_m";

/** What `python -m tunekit_worker export|convert-gguf` wrote. */
export interface ExportResult {
  format: string;
  quant?: string;
  model_dir?: string;
  base_gguf?: string | null;
  adapter_gguf?: string | null;
  merged_gguf?: string;
  /** the f16 files llama.cpp quantized from, with `keepF16` */
  merged_f16_gguf?: string;
  base_f16_gguf?: string;
  modelfile?: string;
  modelfile_adapter?: string;
  template_family?: string | null;
  stop?: string[];
}

/** The environment variable that tells the worker where llama.cpp's libraries are (worker/tunekit_worker/llama_quantize.py). */
export const LLAMA_LIBRARY_DIR_VARIABLE = "TUNEKIT_LLAMA_LIB_DIR";

/**
 * The folder of llama.cpp's shared libraries (libllama, libggml*) that node-llama-cpp ships as
 * `@node-llama-cpp/<platform>-<arch>[-metal]/bins/<same name>/`, resolved from node-llama-cpp's own
 * location; undefined when the prebuilt package for this machine is not installed.
 */
export function llamaLibraryFolder(): string | undefined {
  const platform = process.platform === "darwin" ? "mac" : process.platform === "win32" ? "win" : process.platform;
  const names = [`${platform}-${process.arch}`, `${platform}-${process.arch}-metal`];
  let fromNodeLlamaCpp: NodeJS.Require;
  try {
    fromNodeLlamaCpp = createRequire(createRequire(import.meta.url).resolve("node-llama-cpp"));
  } catch {
    return undefined;
  }
  for (const name of names) {
    try {
      // the package's entry is <package>/dist/index.js
      const folder = join(dirname(dirname(fromNodeLlamaCpp.resolve(`@node-llama-cpp/${name}`))), "bins", name);
      if (existsSync(folder)) return folder;
    } catch {
      // not installed for this platform variant
    }
  }
  return undefined;
}

/** Runs the worker's export entry points (the tensor math lives in Python) without a shell. */
export class WorkerExporter {
  /** `worker`: the Python worker (src/spec/python-worker.ts), wired by the composition root */
  constructor(private readonly worker: PythonWorker) {}

  exportRun(runDir: string, format: ExportFormat, out: string, options: { quant?: ExportQuant; model?: string | null; keepF16?: boolean } = {}): Promise<ExportResult> {
    const args = ["export", runDir, "--format", format, "--out", out, "--quant", options.quant ?? "f16"];
    if (options.model) args.push("--model", options.model);
    if (options.keepF16) args.push("--keep-f16");
    return this.run(args);
  }

  convertToGguf(model: string, out: string, quant: ExportQuant = "f16"): Promise<ExportResult> {
    return this.run(["convert-gguf", model, out, "--quant", quant]);
  }

  private run(args: string[]): Promise<ExportResult> {
    // q4_k_m is quantized by llama.cpp itself, through the libraries node-llama-cpp ships (unless the environment names others)
    const folder = llamaLibraryFolder();
    return this.worker.runJson<ExportResult>(args, { label: "export", environmentDefaults: folder ? { [LLAMA_LIBRARY_DIR_VARIABLE]: folder } : {} });
  }
}
