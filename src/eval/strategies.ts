import type { ChatMessage } from "../spec/dataset.js";
import type { EvalExample } from "./eval-example.js";
import { Bm25Index } from "./retrieval/bm25-index.js";
import { sampleIndices, seededRandom } from "./seeded-random.js";

export type StrategyName = "zero-shot" | "few-shot" | "rag" | "fine-tuned";

export const STRATEGY_DESCRIPTIONS: Record<StrategyName, string> = {
  "zero-shot": "base model, system prompt and user turn only",
  "few-shot": "base model, k training examples as earlier turns",
  rag: "base model, k retrieved passages in the system prompt",
  "fine-tuned": "fine-tuned model, the plain prompt",
};

/** Chooses, for one test example, the passages or demonstrations a prompt gets. */
export interface Retriever {
  readonly description: string;
  /** indices into the candidate list, best first */
  retrieve(query: string, k: number): Promise<number[]>;
}

export class Bm25Retriever implements Retriever {
  readonly description = "BM25 (Okapi, k1=1.2, b=0.75)";
  private readonly index: Bm25Index;
  constructor(documents: readonly string[]) {
    this.index = new Bm25Index(documents);
  }
  async retrieve(query: string, k: number): Promise<number[]> {
    return this.index.search(query, k).map((hit) => hit.index);
  }
}

/** k seeded random candidates per query; each query gets its own draw from one seeded stream. */
export class RandomRetriever implements Retriever {
  readonly description: string;
  private readonly random: () => number;
  constructor(
    private readonly size: number,
    seed: number,
  ) {
    this.random = seededRandom(seed);
    this.description = `random (seed ${seed})`;
  }
  async retrieve(_query: string, k: number): Promise<number[]> {
    return sampleIndices(this.size, k, this.random);
  }
}

/**
 * Few-shot prompt: the test example's system prompt, then each demonstration as a user turn and
 * its assistant answer, then the test conversation. Demonstrations are listed most similar last
 * (closest to the question).
 */
export function fewShotPrompt(example: EvalExample, demonstrations: readonly EvalExample[]): ChatMessage[] {
  const system = example.prompt.filter((message) => message.role === "system" || message.role === "developer");
  const rest = example.prompt.filter((message) => message.role !== "system" && message.role !== "developer");
  const shots: ChatMessage[] = [];
  for (const demonstration of [...demonstrations].reverse()) {
    shots.push({ role: "user", content: demonstration.input }, { role: "assistant", content: demonstration.reference });
  }
  return [...system, ...shots, ...rest];
}

/** A training example as a RAG passage: its question and answer. */
export function examplePassage(example: EvalExample): string {
  return `${example.input}\nAnswer: ${example.reference}`;
}

/**
 * RAG prompt: the passages appended to the system prompt (a system message is added when the
 * conversation has none), numbered, most relevant first.
 */
export function ragPrompt(example: EvalExample, passages: readonly string[]): ChatMessage[] {
  const context = `Relevant passages (most relevant first):\n${passages.map((passage, index) => `[${index + 1}] ${passage}`).join("\n\n")}`;
  const messages = example.prompt.map((message) => ({ ...message }));
  const system = messages.find((message) => message.role === "system" || message.role === "developer");
  if (system) system.content = `${String(system.content)}\n\n${context}`;
  else messages.unshift({ role: "system", content: context });
  return messages;
}
