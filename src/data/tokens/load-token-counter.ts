import { stat, readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { TunekitError } from "../../core/errors.js";
import type { ExampleTokenCounter, ExampleTokens } from "../token-counter.js";
import { hostedTrainingContext } from "../estimate/price-table.js";
import { isHfTokenizerFolder, loadHfTokenizerFolder } from "./hf-tokenizer.js";
import { loadGgufTokenizer } from "./gguf-tokenizer.js";
import { TemplateTokenCounter } from "./template-token-counter.js";
import { TiktokenCounter, openAiEncodingFor } from "./tiktoken-counter.js";
import type { CountableExample } from "./trained-token-spans.js";

export interface LoadTokenCounterOptions {
  /** Jinja chat template overriding the model's own (`data.chat_template`) */
  chatTemplate?: string | null;
}

/** A counter that also takes prompt-completion and text examples (every counter Tunekit builds is one). */
export interface DatasetTokenCounter extends ExampleTokenCounter {
  count(example: CountableExample, line?: number): ExampleTokens;
}

async function statOrNull(file: string) {
  try {
    return await stat(file);
  } catch {
    return null;
  }
}

/** A hub id's snapshot in the local Hugging Face cache, when one was downloaded earlier. */
async function cachedHubSnapshot(hubId: string): Promise<string | null> {
  const hubCache = process.env.HF_HUB_CACHE ?? path.join(process.env.HF_HOME ?? path.join(os.homedir(), ".cache", "huggingface"), "hub");
  const snapshots = path.join(hubCache, `models--${hubId.replace("/", "--")}`, "snapshots");
  try {
    for (const snapshot of await readdir(snapshots)) {
      const folder = path.join(snapshots, snapshot);
      if (await isHfTokenizerFolder(folder)) return folder;
    }
  } catch {
    // no cache entry
  }
  return null;
}

/**
 * The token counter for a model:
 *  - OpenAI model names (and `ft:` ids) -> tiktoken with the OpenAI cookbook rule;
 *  - a `.gguf` file -> its own tokenizer and chat template, read from the GGUF metadata;
 *  - a local folder with tokenizer.json -> @huggingface/tokenizers + the folder's chat template;
 *  - a hub id (`org/name`) -> the local Hugging Face cache when it holds the model, else an error
 *    saying how to point at a local copy (Tunekit does not download here).
 */
export async function loadTokenCounter(model: string, options: LoadTokenCounterOptions = {}): Promise<DatasetTokenCounter> {
  const encodingName = openAiEncodingFor(model);
  const found = await statOrNull(model);
  if (encodingName !== null && found === null) {
    return new TiktokenCounter(encodingName, hostedTrainingContext(model));
  }
  if (found?.isFile()) {
    if (model.toLowerCase().endsWith(".gguf")) {
      return new TemplateTokenCounter(await loadGgufTokenizer(model, options.chatTemplate));
    }
    throw new TunekitError(`\`${model}\` is a file but not a .gguf model`, {
      kind: "config",
      code: "unsupported_model_file",
      field: "model",
      fix: "Pass a .gguf file, a folder holding tokenizer.json and tokenizer_config.json, or an OpenAI model name such as gpt-4o-mini-2024-07-18.",
    });
  }
  if (found?.isDirectory()) {
    return new TemplateTokenCounter(await loadHfTokenizerFolder(model, options.chatTemplate));
  }
  if (/^[\w.-]+\/[\w.-]+$/.test(model)) {
    const snapshot = await cachedHubSnapshot(model);
    if (snapshot !== null) return new TemplateTokenCounter(await loadHfTokenizerFolder(snapshot, options.chatTemplate));
    throw new TunekitError(`No local copy of the hub model \`${model}\` was found, and Tunekit does not download models here`, {
      kind: "not_found",
      code: "model_not_found",
      field: "model",
      fix: `Download it where a network exists (\`hf download ${model} --local-dir ./models/${model.split("/")[1]}\`), then pass that folder with --model ./models/${model.split("/")[1]}, or pass a .gguf file.`,
    });
  }
  throw new TunekitError(`\`${model}\` is not a known OpenAI model, a .gguf file or a model folder`, {
    kind: "not_found",
    code: "model_not_found",
    field: "model",
    fix: "Pass an OpenAI model name (gpt-4o-mini-2024-07-18), a path to a .gguf file, or a folder with tokenizer.json and tokenizer_config.json.",
  });
}
