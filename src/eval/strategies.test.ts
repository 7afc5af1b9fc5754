import { describe, expect, it } from "vitest";
import { toEvalExample } from "./eval-example.js";
import { Bm25Retriever, RandomRetriever, fewShotPrompt, ragPrompt } from "./strategies.js";

const chat = (user: string, answer: string) =>
  toEvalExample(
    "chat",
    {
      messages: [
        { role: "system", content: "Extract ingredients." },
        { role: "user", content: user },
        { role: "assistant", content: answer },
      ],
    },
    1,
  )!;

describe("eval examples", () => {
  it("splits chat and prompt-completion examples into prompt and reference", () => {
    const example = chat("2 cups flour", '["flour"]');
    expect(example.reference).toBe('["flour"]');
    expect(example.system).toBe("Extract ingredients.");
    expect(example.prompt.map((message) => message.role)).toEqual(["system", "user"]);
    const completion = toEvalExample("prompt-completion", { prompt: "2+2=", completion: "4" }, 3)!;
    expect(completion).toMatchObject({ line: 3, input: "2+2=", reference: "4", system: null });
    expect(toEvalExample("text", { text: "x" }, 1)).toBeNull();
  });
});

describe("prompts", () => {
  const test = chat("1 c. sugar and 2 eggs", '["sugar","eggs"]');
  const train = [chat("3 eggs, beaten", '["eggs"]'), chat("1 lb ground beef", '["ground beef"]'), chat("sugar to taste", '["sugar"]')];

  it("few-shot puts demonstrations between the system prompt and the question, nearest last", async () => {
    const retriever = new Bm25Retriever(train.map((example) => example.input));
    const chosen = await retriever.retrieve(test.input, 2);
    expect(chosen.sort()).toEqual([0, 2]);
    const messages = fewShotPrompt(test, [train[2]!, train[0]!]);
    expect(messages.map((message) => message.role)).toEqual(["system", "user", "assistant", "user", "assistant", "user"]);
    expect(messages[1]!.content).toBe("3 eggs, beaten");
    expect(messages[3]!.content).toBe("sugar to taste");
    expect(messages[5]!.content).toBe(test.input);
  });

  it("random selection is seeded", async () => {
    const first = await new RandomRetriever(50, 9).retrieve("", 5);
    expect(await new RandomRetriever(50, 9).retrieve("", 5)).toEqual(first);
    expect(await new RandomRetriever(50, 10).retrieve("", 5)).not.toEqual(first);
  });

  it("RAG appends numbered passages to the system prompt", () => {
    const messages = ragPrompt(test, ["alpha", "beta"]);
    expect(messages).toHaveLength(2);
    expect(messages[0]!.content).toBe("Extract ingredients.\n\nRelevant passages (most relevant first):\n[1] alpha\n\n[2] beta");
    expect(test.prompt[0]!.content).toBe("Extract ingredients.");
  });
});
