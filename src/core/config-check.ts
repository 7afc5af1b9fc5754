import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from "node:fs";
import { basename, delimiter, dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import { resolveConfigPath, type LoadedConfig } from "./config-load.js";
import { isTunekitError, type ProblemDetail } from "./errors.js";
import { checkModelSource } from "./model-source.js";

/**
 * What `tunekit config show` checks before any compute: the data files exist, the model is
 * reachable, and provider, model and method agree. Each problem names the field and its line in
 * the config and carries its own fix. The room's neighbours (the price table, the dataset format
 * detector) come in through `ConfigCheckEnvironment`, so that core imports nothing of theirs.
 */
export interface ConfigCheckEnvironment {
  /** the price table's entry for a hosted model name (alias, snapshot or `ft:` id), or null */
  hostedModel(model: string): { provider: string; model: string } | null;
  /** for a hosted-looking name the table does not know: the sentence with the nearest name; else null */
  unknownHostedModel(model: string): string | null;
  /** the dataset format of one record (`chat`, `preference`, ...), or null */
  recordFormat(record: unknown): string | null;
  /** null when a CUDA GPU is usable here, else why not (cheap: no torch) */
  cudaUnavailable(): string | null;
  environment: NodeJS.ProcessEnv;
}

export interface ConfigCheck {
  ok: boolean;
  problems: ProblemDetail[];
}

/** Why CUDA is not usable on this machine, from the device files and PATH only; null when it may be. */
export function cudaUnavailable(environment: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | null {
  if (platform === "darwin") return "CUDA does not exist on macOS (Apple GPUs are not NVIDIA GPUs)";
  const visible = environment.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && (visible.trim() === "" || visible.trim() === "-1")) return `CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)} hides every GPU`;
  if (platform === "win32") return null;
  const device = existsSync("/dev/nvidia0") || existsSync("/dev/dxg");
  const smi = (environment.PATH ?? "").split(delimiter).some((folder) => folder !== "" && existsSync(join(folder, "nvidia-smi")));
  if (device || smi) return null;
  return "this machine has no NVIDIA GPU (no /dev/nvidia0 and no `nvidia-smi` on PATH)";
}

const FILE_ID = /^file-[A-Za-z0-9_-]+$/;
const DATASET_FILE = /\.(jsonl|json|csv|tsv|parquet|jsonl\.gz|jsonl\.zst)$/i;
const TRL_PAIR = (record: unknown): boolean => record !== null && typeof record === "object" && !Array.isArray(record) && "chosen" in record && "rejected" in record;

/** The first record of a JSONL file (the first 1 MB is enough), or undefined when it cannot be peeked at. */
function firstRecord(path: string): unknown {
  if (!/\.jsonl?$/i.test(path) && extname(path) !== "") return undefined;
  let descriptor: number | undefined;
  try {
    descriptor = openSync(path, "r");
    const buffer = Buffer.alloc(1 << 20);
    const read = readSync(descriptor, buffer, 0, buffer.length, 0);
    const text = buffer
      .subarray(0, read)
      .toString("utf8")
      .replace(/^\uFEFF/, "");
    const line = text.split(/\r?\n/).find((candidate) => candidate.trim() !== "");
    return line === undefined ? undefined : JSON.parse(line);
  } catch {
    return undefined;
  } finally {
    if (descriptor !== undefined) closeSync(descriptor);
  }
}

/** Dataset files next to a missing one, to name in the fix (the names `data split` writes, for instance). */
function neighbours(path: string): string[] {
  const folder = dirname(path);
  if (!existsSync(folder)) return [];
  try {
    return readdirSync(folder)
      .filter((name) => DATASET_FILE.test(name))
      .sort((a, b) => Number(/train|valid/.test(b)) - Number(/train|valid/.test(a)) || a.localeCompare(b))
      .slice(0, 4);
  } catch {
    return [];
  }
}

/** A config `model` that names a file or folder, resolved against the config's folder; a hub id or hosted name stays. */
function resolveModelPath(loaded: LoadedConfig, model: string): string {
  if (isAbsolute(model)) return model;
  if (model.startsWith("~/")) return resolve(process.env.HOME ?? "", model.slice(2));
  const candidate = resolveConfigPath(loaded, model);
  const looksLikePath = model.startsWith("./") || model.startsWith("../") || /\.gguf$/i.test(model);
  return existsSync(candidate) || looksLikePath ? candidate : model;
}

/** Every problem that can be found in a loaded config before any compute, each with its field, line and fix. */
export function checkConfig(loaded: LoadedConfig, context: ConfigCheckEnvironment): ConfigCheck {
  const { config } = loaded;
  const file = loaded.path ? relative(process.cwd(), loaded.path) || basename(loaded.path) : "config";
  const problems: ProblemDetail[] = [];
  const lineOf = (path: readonly string[]) => loaded.lineOf?.(path);
  const add = (problem: Omit<ProblemDetail, "file" | "line"> & { at?: readonly string[] }) => {
    const { at, ...rest } = problem;
    const line = lineOf(at ?? (problem.field ?? "").split("."));
    problems.push({ ...rest, file, ...(line !== undefined && { line }) });
  };
  const hosted = config.provider !== "local";
  const entry = context.hostedModel(config.model);
  const unknownHosted = entry ? null : context.unknownHostedModel(config.model);

  // the data files
  const dataFiles = [
    ["data.train", config.data.train],
    ["data.validation", config.data.validation],
    ["data.test", config.data.test],
  ] as const;
  for (const [field, value] of dataFiles) {
    if (value === null || value === "") continue;
    if (FILE_ID.test(value) && !existsSync(resolveConfigPath(loaded, value))) {
      if (config.provider === "local") {
        add({
          code: "file_id_for_local_run",
          field,
          message: `\`${field}\` is \`${value}\`, an uploaded file's id; a local run reads a file on this machine`,
          fix: `set \`${field}\` to the JSONL file's path (relative to ${file}), or submit to the server that holds it with \`tunekit train --server <url>\``,
        });
      }
      continue;
    }
    const path = resolveConfigPath(loaded, value);
    if (!existsSync(path)) {
      const near = neighbours(path);
      const folder = relative(process.cwd(), dirname(path)) || ".";
      add({
        code: "data_not_found",
        field,
        message: `\`${field}\` is \`${value}\`: no such file (${path})`,
        fix:
          near.length > 0
            ? `point \`${field}\` at one of the files in ${folder}/: ${near.map((name) => `\`${join(relative(loaded.baseDir, dirname(path)) || ".", name)}\``).join(", ")} (paths are relative to ${file})`
            : `write the file, or fix the path in \`${field}\` (relative to ${file}'s folder, ${loaded.baseDir}); \`tunekit data convert\` and \`tunekit data split\` write JSONL files`,
      });
    } else if (statSync(path).isDirectory()) {
      const near = neighbours(join(path, "x"));
      add({
        code: "is_a_directory",
        field,
        message: `\`${field}\` is \`${value}\`, a folder, not a file`,
        fix: near.length > 0 ? `name one file in it, e.g. \`${join(value, near[0]!)}\`` : "name one dataset file (JSONL)",
      });
    }
  }

  // the model, and whether it fits the provider
  if (!hosted) {
    if (entry || unknownHosted) {
      add({
        code: "provider_model_mismatch",
        field: "provider",
        at: loaded.lineOf?.(["provider"]) !== undefined ? ["provider"] : ["model"],
        message: `\`model\` \`${config.model}\` is a hosted OpenAI model, but \`provider\` is \`local\`, which trains open models on this machine`,
        fix: `set \`provider: openai\` (or \`azure\`) to fine-tune it there, or set \`model\` to a local model folder or .gguf file to train here`,
      });
      if (unknownHosted)
        add({
          code: "unknown_hosted_model",
          field: "model",
          message: unknownHosted,
          fix: "use a model from the price table (`tunekit estimate --help` lists where it lives), or update the table",
        });
    } else {
      try {
        checkModelSource(resolveModelPath(loaded, config.model), { field: "model", environment: context.environment });
      } catch (error) {
        if (!isTunekitError(error)) throw error;
        const fix = (error.fix ?? "set `model` to a local model folder or .gguf file")
          .replace(/pass model (\S+)$/, "set `model: $1`")
          .replace(/e\.g\. model (\S+)$/, "e.g. `model: $1`");
        add({ code: error.code, field: "model", message: `\`model\`: ${error.message}`, fix });
      }
    }
  } else {
    const customServer = config.provider === "openai" && config.openai.base_url !== null;
    if (!customServer) {
      if (unknownHosted) {
        add({
          code: "unknown_hosted_model",
          field: "model",
          message: unknownHosted,
          fix: "set `model` to a fine-tunable model of the price table, e.g. `model: gpt-4o-mini-2024-07-18`",
        });
      } else if (!entry) {
        add({
          code: "provider_model_mismatch",
          field: "model",
          message: `\`provider\` is \`${config.provider}\`, which fine-tunes hosted models only, but \`model\` \`${config.model}\` is not one (a local path or a Hub id)`,
          fix: `set \`provider: local\` to train \`${config.model}\` on this machine, or set \`model\` to a hosted model such as \`gpt-4o-mini-2024-07-18\``,
        });
      } else if (entry.provider !== "openai" && entry.provider !== config.provider) {
        add({
          code: "provider_model_mismatch",
          field: "provider",
          message: `\`model\` \`${config.model}\` is a ${entry.provider} model, but \`provider\` is \`${config.provider}\``,
          fix: `set \`provider: ${entry.provider}\``,
        });
      }
    }
    const urlField = config.provider === "openai" ? "openai.base_url" : "azure.endpoint";
    const url = config.provider === "openai" ? config.openai.base_url : (config.azure.endpoint ?? (context.environment.AZURE_OPENAI_ENDPOINT || null));
    if (config.provider === "azure" && url === null) {
      add({
        code: "missing_endpoint",
        field: "azure.endpoint",
        at: loaded.lineOf?.(["azure", "endpoint"]) !== undefined ? ["azure", "endpoint"] : loaded.lineOf?.(["azure"]) !== undefined ? ["azure"] : ["provider"],
        message: "`provider: azure` needs the resource endpoint: `azure.endpoint` is null and AZURE_OPENAI_ENDPOINT is not set",
        fix: "set `azure.endpoint: https://<your-resource>.openai.azure.com` under `azure:` (or export AZURE_OPENAI_ENDPOINT)",
      });
    } else if (url !== null && !/^https?:\/\//i.test(url)) {
      add({ code: "url_without_scheme", field: urlField, message: `\`${urlField}\` is \`${url}\`, a URL without its scheme`, fix: `write \`https://${url}\`` });
    }
    const keyEnv = config.provider === "openai" ? config.openai.api_key_env : config.azure.api_key_env;
    const tokenEnv = config.provider === "azure" ? config.azure.ad_token_env : null;
    const hasCredential = Boolean(context.environment[keyEnv]) || (tokenEnv !== null && Boolean(context.environment[tokenEnv]));
    if (!hasCredential) {
      add({
        code: "missing_api_key",
        field: `${config.provider}.api_key_env`,
        at: loaded.lineOf?.([config.provider, "api_key_env"]) !== undefined ? [config.provider, "api_key_env"] : ["provider"],
        message: `\`provider: ${config.provider}\` reads its API key from ${keyEnv}${tokenEnv ? ` (or a token from ${tokenEnv})` : ""}, which is not set`,
        fix: `export ${keyEnv}=<your key> before \`tunekit train\`, or name another variable in \`${config.provider}.api_key_env\``,
      });
    }
  }

  // the method, against the machine and the data
  const method = config.training.method;
  if (method === "qlora") {
    if (hosted) {
      add({
        code: "method_provider_mismatch",
        field: "training.method",
        message: `\`training.method: qlora\` runs on Tunekit's local worker only; \`provider: ${config.provider}\` does not offer it`,
        fix: "use `method: lora` (hosted providers choose their own method), or `provider: local` with a local model",
      });
    } else if (config.training.device === "cpu") {
      add({
        code: "qlora_needs_cuda",
        field: "training.method",
        message: "`training.method: qlora` needs a CUDA GPU (4-bit bitsandbytes kernels), but `training.device` is `cpu`",
        fix: "use `method: lora` to train on the CPU, or set `device: auto` on a machine with an NVIDIA GPU",
      });
    } else {
      const reason = context.cudaUnavailable();
      if (reason)
        add({
          code: "qlora_needs_cuda",
          field: "training.method",
          message: `\`training.method: qlora\` needs a CUDA GPU, and ${reason}`,
          fix: "use `method: lora` here (it runs on CPU too), or run on a machine with an NVIDIA GPU",
        });
    }
  }
  if (method === "dpo") {
    if (config.data.format !== "auto" && config.data.format !== "preference") {
      add({
        code: "dpo_needs_preference_data",
        field: "data.format",
        message: `\`training.method: dpo\` trains on preference pairs, but \`data.format\` is \`${config.data.format}\``,
        fix: "set `data.format: preference` (or `auto`), or use `method: lora` for this data",
      });
    }
    const train = resolveConfigPath(loaded, config.data.train);
    const record = existsSync(train) && statSync(train).isFile() ? firstRecord(train) : undefined;
    if (record !== undefined) {
      const format = context.recordFormat(record);
      if (format !== "preference") {
        const trl = TRL_PAIR(record);
        add({
          code: "dpo_needs_preference_data",
          field: "data.train",
          message: trl
            ? `\`training.method: dpo\` needs preference pairs in Tunekit's (OpenAI's) shape, and the first record of \`${config.data.train}\` is a TRL-style pair (\`prompt\`, \`chosen\`, \`rejected\`)`
            : `\`training.method: dpo\` needs preference pairs, but the first record of \`${config.data.train}\` is ${format ? `a ${format} example` : "not a dataset example"}`,
          fix: trl
            ? `convert it: \`tunekit data convert ${config.data.train} <out>.jsonl\` writes {"input", "preferred_output", "non_preferred_output"} records`
            : 'give each line {"input": {"messages": [...]}, "preferred_output": [assistant message], "non_preferred_output": [assistant message]}, or use `method: lora` for this data',
        });
      }
    }
  }
  problems.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  return { ok: problems.length === 0, problems };
}
