import { readFile } from "node:fs/promises";
import { TunekitError } from "../../core/errors.js";
import { readDatasetExamples } from "../../data/stats/read-dataset-examples.js";

/**
 * RAG passages from a file: a `.jsonl`/`.json` file of records with a `text` field (chat examples
 * become their messages' text), or any other text file split at blank lines.
 */
export async function readPassageCorpus(file: string): Promise<string[]> {
  const passages: string[] = [];
  if (/\.jsonl?$/iu.test(file)) {
    for await (const record of readDatasetExamples(file)) {
      if (!record.ok) continue;
      const example = record.example;
      if (typeof example.text === "string") passages.push(example.text);
      else if (Array.isArray(example.messages)) passages.push((example.messages as Array<{ content?: unknown }>).map((message) => String(message.content ?? "")).join("\n"));
    }
  } else {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      throw new TunekitError(`Cannot read the RAG corpus \`${file}\``, {
        kind: "usage",
        code: "corpus_not_found",
        field: "eval.rag.corpus",
        fix: 'Point `eval.rag.corpus` (relative to the config file) at a .jsonl file of {"text"} records or a text file of passages separated by blank lines.',
        cause: error,
      });
    }
    for (const passage of text.split(/\r?\n\s*\r?\n/u)) if (passage.trim().length > 0) passages.push(passage.trim());
  }
  if (passages.length === 0) {
    throw new TunekitError(`The RAG corpus \`${file}\` holds no passages`, {
      kind: "data",
      code: "empty_corpus",
      field: "eval.rag.corpus",
      fix: "Give it records with a `text` field (.jsonl) or paragraphs separated by blank lines.",
    });
  }
  return passages;
}
