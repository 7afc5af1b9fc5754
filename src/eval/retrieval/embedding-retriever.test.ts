import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddingRetriever, embedTexts } from "./embedding-retriever.js";

const python = path.resolve(".venv/bin/python");

/** A tiny random BERT with a word-level vocabulary, built at test time (no model download). */
const BUILD = `
import sys, torch
from pathlib import Path
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
folder = Path(sys.argv[1]); folder.mkdir(parents=True, exist_ok=True)
words = "sugar flour eggs butter salt pepper beef chicken rice beans apple pie soup cake".split()
vocab = {token: index for index, token in enumerate(["[PAD]", "[UNK]"] + words)}
tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]").save_pretrained(folder)
torch.manual_seed(0)
BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, initializer_range=1.0)).save_pretrained(folder)
`;

describe.skipIf(!existsSync(python))("embedding retriever (Python venv, mean pooling)", () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(path.join(tmpdir(), "tunekit-embed-"));
    execFileSync(python, ["-c", BUILD, folder], { stdio: "ignore" });
  }, 120_000);
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it("returns unit vectors, and a passage is its own nearest neighbour", async () => {
    const documents = ["sugar flour eggs", "beef chicken rice", "apple pie cake", "salt pepper soup"];
    const vectors = await embedTexts(python, folder, documents);
    expect(vectors).toHaveLength(4);
    for (const vector of vectors) expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    const retriever = await EmbeddingRetriever.create(python, folder, documents, documents);
    for (const [index, document] of documents.entries()) expect((await retriever.retrieve(document, 1))[0]).toBe(index);
    expect(await retriever.retrieve(documents[2]!, 4)).toHaveLength(4);
  }, 120_000);

  it("names the field when the model folder is wrong", async () => {
    await expect(embedTexts(python, path.join(folder, "missing"), ["x"])).rejects.toMatchObject({ code: "embedding_failed", field: "eval.rag.embedding_model" });
  }, 60_000);
});
