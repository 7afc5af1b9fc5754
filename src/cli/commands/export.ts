import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { TunekitError } from "../../core/errors.js";
import type { ExportQuant } from "../../serve/worker-exporter.js";
import { RUN_FOLDERS } from "../../spec/run-folder.js";
import { action, printJson } from "../output.js";

interface ExportCommandOptions {
  format: string;
  quant: string;
  out?: string;
  model?: string;
  keepF16: boolean;
  dataDir: string;
  json: boolean;
}

/** A run folder, or the run folder of a job id (`ftjob-...`) or fine-tuned model id (`ft:...`) in the data dir. */
async function runDirOf(jobOrRun: string, dataDir: string): Promise<string> {
  if (existsSync(jobOrRun)) return resolve(jobOrRun);
  if (!jobOrRun.startsWith("ftjob-") && !jobOrRun.startsWith("ft:")) {
    throw new TunekitError(`\`${jobOrRun}\` is neither a run folder nor a job or fine-tuned model id`, {
      kind: "usage",
      code: "not_found",
      field: "JOB_OR_RUN",
      fix: "pass a run folder (e.g. runs/my-run) or an id from `tunekit jobs list`",
    });
  }
  if (!existsSync(resolve(dataDir)))
    throw new TunekitError(`data dir \`${dataDir}\` does not exist`, { kind: "usage", code: "not_found", field: "--data-dir", fix: "pass the server's `--data-dir`" });
  const { openDatabase } = await import("../../jobs/store/database.js");
  const database = await openDatabase(resolve(dataDir));
  try {
    const row = await database
      .selectFrom("jobs")
      .select(["id", "run_dir", "status"])
      .where(jobOrRun.startsWith("ft:") ? "fine_tuned_model" : "id", "=", jobOrRun)
      .executeTakeFirst();
    if (!row)
      throw new TunekitError(`no job or model \`${jobOrRun}\` in ${dataDir}`, {
        kind: "not_found",
        code: "job_not_found",
        field: "JOB_OR_RUN",
        fix: "list jobs with `tunekit jobs list`",
      });
    if (row.status !== "succeeded" || !row.run_dir)
      throw new TunekitError(`job ${row.id} is ${row.status}; only a succeeded job can be exported`, { kind: "usage", code: "job_not_finished", field: "JOB_OR_RUN" });
    return row.run_dir;
  } finally {
    await database.destroy();
  }
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("export a fine-tuned model for transformers/vLLM (hf), llama.cpp (gguf) or Ollama (ollama)")
    .argument("<job-or-run>", "a run folder, a job id (ftjob-...) or a fine-tuned model id (ft:...)")
    .requiredOption("--format <format>", "hf | gguf | ollama")
    .option("--quant <quant>", "GGUF/Ollama tensor type: f16 | q8_0 | q4_k_m (llama.cpp's quantizer) | f32; the LoRA adapter GGUF always stays f32", "f16")
    .option("--keep-f16", "with --quant q4_k_m: keep the f16 GGUF it was quantized from", false)
    .option("--out <dir>", "output folder (default: <run>/export/<format>)")
    .option("--model <base>", "the base model, when the run folder does not record it")
    .option("--data-dir <dir>", "the server's data dir, to find job and model ids", ".tunekit")
    .option("--json", "print the written paths as JSON", false)
    .action(
      action(async (jobOrRun: string, options: ExportCommandOptions) => {
        if (!["hf", "gguf", "ollama"].includes(options.format))
          throw new TunekitError(`unknown \`--format\` ${options.format}`, { kind: "usage", code: "invalid_option", field: "--format", fix: "use hf, gguf or ollama" });
        if (!["f32", "f16", "q8_0", "q4_k_m"].includes(options.quant))
          throw new TunekitError(`unknown \`--quant\` ${options.quant}`, { kind: "usage", code: "invalid_option", field: "--quant", fix: "use f16, q8_0, q4_k_m or f32" });
        if (options.format === "hf" && options.quant !== "f16")
          throw new TunekitError(`\`--quant ${options.quant}\` applies to GGUF files; \`--format hf\` writes safetensors in float32`, {
            kind: "usage",
            code: "invalid_option",
            field: "--quant",
            fix: "drop `--quant`, or export `--format gguf` or `--format ollama`",
          });
        const runDir = await runDirOf(jobOrRun, options.dataDir);
        const out = resolve(options.out ?? join(runDir, RUN_FOLDERS.export, options.format));
        const { WorkerExporter } = await import("../../serve/worker-exporter.js");
        const { PythonWorkerBridge } = await import("../../providers/local/python-worker.js");
        const result = await new WorkerExporter(new PythonWorkerBridge()).exportRun(runDir, options.format as "hf" | "gguf" | "ollama", out, {
          quant: options.quant as ExportQuant,
          model: options.model,
          keepF16: options.keepF16,
        });
        if (options.json) {
          printJson(result);
          return;
        }
        process.stdout.write(`exported ${runDir} as ${options.format} to ${out}\n`);
        for (const [label, path] of [
          ["merged model", result.model_dir ?? result.merged_gguf],
          ["merged model (f16 source)", result.merged_f16_gguf],
          ["base GGUF", result.base_gguf],
          ["base GGUF (f16 source)", result.base_f16_gguf],
          ["LoRA adapter GGUF (f32)", result.adapter_gguf],
          ["Modelfile", result.modelfile],
          ["Modelfile (base + ADAPTER)", result.modelfile_adapter],
        ] as const) {
          if (path) process.stdout.write(`  ${label}: ${path}\n`);
        }
        if (options.format === "ollama") process.stdout.write(`  run it: cd ${out} && ollama create my-model -f Modelfile && ollama run my-model\n`);
        if (options.format === "gguf")
          process.stdout.write(`  serve it: tunekit serve ${result.base_gguf ?? result.merged_gguf}${result.adapter_gguf ? ` --adapter tuned=${result.adapter_gguf}` : ""}\n`);
      }),
    );
}
