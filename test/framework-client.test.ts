/**
 * A framework client as teams leaving OpenAI use it: the Vercel AI SDK's OpenAI-compatible
 * provider pointed at `tunekit server`, against a model fine-tuned there for real (a tiny random
 * Llama and the real worker): a plain chat, a streamed chat, and structured output with a zod
 * schema (the server constrains decoding to the JSON schema the SDK sends).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateObject, generateText, streamText } from "ai";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

const THINGS = ["apple", "sky", "grass", "banana", "coal", "snow", "plum", "carrot", "lemon", "cherry", "night", "cloud"];

let workDir: string;
let server: RunningServer;
let fineTuned: string;
let provider: ReturnType<typeof createOpenAICompatible>;

describe.skipIf(!haveWorker)("the Vercel AI SDK against a Tunekit server", () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-framework-"));
    buildTinyLlama(join(workDir, "tiny-llama"));
    server = await startServer({
      port: 0,
      dataDir: join(workDir, "data"),
      models: [join(workDir, "tiny-llama")],
      backend: new LocalExecutionBackend({ python, workerRoot }),
      trainingDefaults: { device: "cpu", threads: 1, max_steps: 6, checkpoint_every: 100 },
      maxSeqLen: 64,
      serve: { threads: 1 },
      webRoot: null,
    });
    const apiKey = (await server.services.keys.createKey("framework")).key;
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
    const lines = THINGS.map((thing) =>
      JSON.stringify({
        messages: [
          { role: "user", content: `What color is the ${thing}?` },
          { role: "assistant", content: `The ${thing} is red.` },
        ],
      }),
    );
    const file = await client.files.create({ file: await toFile(Buffer.from(`${lines.join("\n")}\n`), "colors.jsonl"), purpose: "fine-tune" });
    const job = await client.fineTuning.jobs.create({ model: "tiny-llama", training_file: file.id, suffix: "framework", seed: 1 });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const current = await client.fineTuning.jobs.retrieve(job.id);
      if (current.status === "succeeded") {
        fineTuned = current.fine_tuned_model as string;
        break;
      }
      if (["failed", "cancelled"].includes(current.status) || Date.now() > deadline) throw new Error(`job ${job.id} ended ${current.status}: ${JSON.stringify(current.error)}`);
      await new Promise((done) => setTimeout(done, 200));
    }
    provider = createOpenAICompatible({ name: "tunekit", baseURL: `${server.url}/v1`, apiKey, supportsStructuredOutputs: true });
  });

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("a plain chat with the fine-tuned model", async () => {
    const result = await generateText({ model: provider(fineTuned), prompt: "What color is the apple?", maxOutputTokens: 8, temperature: 0 });
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(result.finishReason);
  });

  it("a streamed chat: the text arrives in pieces and adds up to the whole answer", async () => {
    const result = streamText({ model: provider(fineTuned), prompt: "What color is the sky?", maxOutputTokens: 12, temperature: 0 });
    const pieces: string[] = [];
    for await (const piece of result.textStream) pieces.push(piece);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe(await result.text);
  });

  it("structured output: an object that fits the zod schema", async () => {
    // a tiny random model writes any string it may: keep it short so the object ends within the token budget
    const schema = z.object({ thing: z.string().max(8), color: z.enum(["red", "blue", "green"]) });
    const result = await generateObject({ model: provider(fineTuned), schema, prompt: "What color is the apple? Answer as JSON.", maxOutputTokens: 160, temperature: 0 });
    expect(schema.safeParse(result.object).success).toBe(true);
    expect(["red", "blue", "green"]).toContain(result.object.color);
  });
});
