import { gguf } from "@huggingface/gguf";
import { TunekitError } from "../../core/errors.js";
import { ChatTemplate, type TemplateSpecialTokens } from "./chat-template.js";
import { HuggingFaceTextTokenizer, type LoadedTokenizer } from "./hf-tokenizer.js";

/** GPT-2's byte -> printable character table (transformers' `bytes_to_unicode`). */
export function bytesToUnicode(): Map<number, string> {
  const bytes: number[] = [];
  for (let b = "!".charCodeAt(0); b <= "~".charCodeAt(0); b++) bytes.push(b);
  for (let b = "¡".charCodeAt(0); b <= "¬".charCodeAt(0); b++) bytes.push(b);
  for (let b = "®".charCodeAt(0); b <= "ÿ".charCodeAt(0); b++) bytes.push(b);
  const characters = [...bytes];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      characters.push(256 + extra);
      extra++;
    }
  }
  return new Map(bytes.map((b, index) => [b, String.fromCharCode(characters[index]!)]));
}

// Split regexes by `tokenizer.ggml.pre`, the same table transformers uses when it loads a GGUF
// (integrations/gguf/gguf_tokenizer_mapping.py); other values keep GPT-2's byte-level split.
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN35_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GPT4O_SPLIT =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
  "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
  "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const PRE_TOKENIZER_SPLITS: Record<string, string> = {
  llama3: LLAMA3_SPLIT,
  "llama-v3": LLAMA3_SPLIT,
  "llama-bpe": LLAMA3_SPLIT,
  falcon3: LLAMA3_SPLIT,
  dbrx: LLAMA3_SPLIT,
  "smaug-bpe": LLAMA3_SPLIT,
  qwen2: QWEN2_SPLIT,
  "deepseek-r1-qwen": QWEN2_SPLIT,
  qwen35: QWEN35_SPLIT,
  "gpt-4o": GPT4O_SPLIT,
  llama4: GPT4O_SPLIT,
};

const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

type Metadata = Record<string, unknown>;

function stringArray(metadata: Metadata, key: string): string[] | null {
  const value = metadata[key];
  return Array.isArray(value) ? (value as string[]) : null;
}

/**
 * tokenizer.json equivalent of a byte-level BPE ("gpt2") GGUF vocabulary, built the way
 * transformers builds it when it loads the same file (so counts agree with the Python worker):
 * vocab re-spelled into the byte alphabet where needed, the file's merges, control tokens as
 * special added tokens, user-defined tokens as plain added tokens, the split regex chosen by
 * `tokenizer.ggml.pre`.
 */
export function byteLevelTokenizerJson(metadata: Metadata): object {
  const tokens = stringArray(metadata, "tokenizer.ggml.tokens") ?? [];
  const tokenTypes = (metadata["tokenizer.ggml.token_type"] as number[] | undefined) ?? [];
  const merges = stringArray(metadata, "tokenizer.ggml.merges") ?? [];
  const spelling = bytesToUnicode();
  const alphabet = new Set(spelling.values());
  const encoder = new TextEncoder();
  const inAlphabet = (token: string) => [...token].every((character) => alphabet.has(character));
  const vocab: Record<string, number> = {};
  tokens.forEach((token, index) => {
    const spelled = inAlphabet(token) ? token : Array.from(encoder.encode(token), (byte) => spelling.get(byte)!).join("");
    vocab[spelled] = index;
  });
  const addedTokens: object[] = [];
  tokens.forEach((token, index) => {
    const type = tokenTypes[index];
    if (type === TOKEN_TYPE_CONTROL && inAlphabet(token)) {
      addedTokens.push(addedToken(index, token, true));
    } else if (type === TOKEN_TYPE_USER_DEFINED && token in vocab) {
      addedTokens.push(addedToken(index, token, false));
    }
  });
  const split = PRE_TOKENIZER_SPLITS[String(metadata["tokenizer.ggml.pre"] ?? "")];
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: split === undefined };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer:
      split === undefined
        ? byteLevel
        : {
            type: "Sequence",
            pretokenizers: [{ type: "Split", pattern: { Regex: split }, behavior: "Isolated", invert: false }, byteLevel],
          },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map((merge) => merge.split(" ")),
    },
  };
}

function addedToken(id: number, content: string, special: boolean): object {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

/** Read a .gguf file's metadata (no tensor data) and build its tokenizer and chat template. */
export async function loadGgufTokenizer(file: string, chatTemplateOverride?: string | null): Promise<LoadedTokenizer> {
  let metadata: Metadata;
  try {
    metadata = (await gguf(file, { allowLocalFile: true })).metadata as unknown as Metadata;
  } catch (error) {
    throw new TunekitError(`Cannot read GGUF metadata from \`${file}\`: ${error instanceof Error ? error.message : String(error)}`, {
      kind: "config",
      code: "invalid_gguf",
      field: "model",
      fix: "Check that the file is a complete GGUF model (re-download it if it was cut short).",
      cause: error,
    });
  }
  const tokenizerModel = String(metadata["tokenizer.ggml.model"] ?? "");
  if (tokenizerModel !== "gpt2") {
    throw new TunekitError(
      `\`${file}\` uses tokenizer \`${tokenizerModel || "(none)"}\`; Tunekit counts tokens for byte-level BPE GGUF files (\`tokenizer.ggml.model\` = gpt2) only`,
      {
        kind: "config",
        code: "unsupported_gguf_tokenizer",
        field: "model",
        fix: "Point `--model` at the model's Hugging Face folder (tokenizer.json + tokenizer_config.json) instead.",
      },
    );
  }
  const tokens = stringArray(metadata, "tokenizer.ggml.tokens") ?? [];
  const tokenAt = (key: string): string | null => {
    const id = metadata[key];
    return typeof id === "number" || typeof id === "bigint" ? (tokens[Number(id)] ?? null) : null;
  };
  const specialTokens: TemplateSpecialTokens = {
    bos_token: tokenAt("tokenizer.ggml.bos_token_id"),
    eos_token: tokenAt("tokenizer.ggml.eos_token_id"),
    unk_token: tokenAt("tokenizer.ggml.unknown_token_id"),
    pad_token: tokenAt("tokenizer.ggml.padding_token_id"),
  };
  const tokenizer = new HuggingFaceTextTokenizer(byteLevelTokenizerJson(metadata), {}, specialTokens.eos_token ?? null);
  const architecture = String(metadata["general.architecture"] ?? "");
  const contextValue = metadata[`${architecture}.context_length`];
  const templateSource = chatTemplateOverride ?? (typeof metadata["tokenizer.chat_template"] === "string" ? (metadata["tokenizer.chat_template"] as string) : null);
  return {
    tokenizer,
    chatTemplate:
      templateSource === null ? null : new ChatTemplate(templateSource, specialTokens, chatTemplateOverride ? "configured chat template" : `chat template in ${file}`, file),
    contextLength: typeof contextValue === "number" || typeof contextValue === "bigint" ? Number(contextValue) : null,
    description: `GGUF tokenizer of ${file}`,
  };
}
