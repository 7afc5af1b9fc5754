import { readFile, access } from "node:fs/promises";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { TunekitError } from "../../core/errors.js";
import { ChatTemplate, pickChatTemplate, type TemplateSpecialTokens } from "./chat-template.js";
import type { TemplatedTokenizer, TextTokenizer } from "./trained-token-spans.js";

/** A loaded open-model tokenizer: text tokenizer, chat template, context length. */
export interface LoadedTokenizer extends TemplatedTokenizer {
  readonly contextLength: number | null;
  /** where the tokenizer came from, for the `method` line */
  readonly description: string;
}

/** @huggingface/tokenizers behind the TextTokenizer interface (encode never adds special tokens). */
export class HuggingFaceTextTokenizer implements TextTokenizer {
  readonly eosTokenId: number | null;
  private readonly tokenizer: Tokenizer;

  constructor(tokenizerJson: object, tokenizerConfig: object, eosToken: string | null) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.eosTokenId = eosToken === null ? null : (this.tokenizer.token_to_id(eosToken) ?? null);
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  tokenToId(token: string): number | null {
    return this.tokenizer.token_to_id(token) ?? null;
  }
}

/** `"<s>"` or `{"content": "<s>", ...}` (AddedToken dict) -> `"<s>"`. */
export function tokenText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (value !== null && typeof value === "object" && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content;
  }
  return null;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new TunekitError(`Cannot read \`${file}\`: ${error instanceof Error ? error.message : String(error)}`, {
      kind: "config",
      code: "invalid_tokenizer_file",
      field: "model",
      fix: "Point `--model` at a folder saved by transformers (`save_pretrained`), with a valid tokenizer.json and tokenizer_config.json.",
      cause: error,
    });
  }
}

export function isHfTokenizerFolder(folder: string): Promise<boolean> {
  return exists(path.join(folder, "tokenizer.json"));
}

/**
 * Load a local Hugging Face model folder: tokenizer.json + tokenizer_config.json (chat template,
 * bos/eos), chat_template.jinja when present (newer transformers saves the template there), and
 * config.json `max_position_embeddings` for the context length.
 */
export async function loadHfTokenizerFolder(folder: string, chatTemplateOverride?: string | null): Promise<LoadedTokenizer> {
  const tokenizerFile = path.join(folder, "tokenizer.json");
  if (!(await exists(tokenizerFile))) {
    throw new TunekitError(`\`${folder}\` has no tokenizer.json`, {
      kind: "config",
      code: "missing_tokenizer",
      field: "model",
      fix: "Save the tokenizer into the folder (`tokenizer.save_pretrained(folder)` in transformers), or point `--model` at a .gguf file.",
    });
  }
  const tokenizerJson = await readJson(tokenizerFile);
  const configFile = path.join(folder, "tokenizer_config.json");
  const tokenizerConfig = (await exists(configFile)) ? await readJson(configFile) : {};
  const modelConfigFile = path.join(folder, "config.json");
  const modelConfig = (await exists(modelConfigFile)) ? await readJson(modelConfigFile) : {};

  let templateSource = chatTemplateOverride ?? null;
  let templateOrigin = "configured chat template";
  if (templateSource === null) {
    const jinjaFile = path.join(folder, "chat_template.jinja");
    if (await exists(jinjaFile)) {
      templateSource = await readFile(jinjaFile, "utf8");
      templateOrigin = `chat template in ${jinjaFile}`;
    } else {
      templateSource = pickChatTemplate(tokenizerConfig.chat_template);
      templateOrigin = `chat template in ${configFile}`;
    }
  }
  const specialTokens: TemplateSpecialTokens = {
    bos_token: tokenText(tokenizerConfig.bos_token),
    eos_token: tokenText(tokenizerConfig.eos_token),
    unk_token: tokenText(tokenizerConfig.unk_token),
    pad_token: tokenText(tokenizerConfig.pad_token),
  };
  const tokenizer = new HuggingFaceTextTokenizer(tokenizerJson, tokenizerConfig, specialTokens.eos_token ?? null);
  const contextLength = typeof modelConfig.max_position_embeddings === "number" ? modelConfig.max_position_embeddings : null;
  return {
    tokenizer,
    chatTemplate: templateSource === null ? null : new ChatTemplate(templateSource, specialTokens, templateOrigin, folder),
    contextLength,
    description: `tokenizer.json of ${folder}`,
  };
}
