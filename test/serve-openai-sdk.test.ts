/**
 * The official `openai` SDK against `tunekit server`'s chat completions: a tiny random Llama as the
 * base model and two LoRA fine-tunes of it trained through the server's own job API (one answers every
 * color question with "red", the other with "blue"), served by node-llama-cpp from one base GGUF.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenApiContract } from "./helpers/openapi-contract.js";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import type { LlamaCppEngine } from "../src/serve/llama-cpp-engine.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import { buildTinyLlama, python, workerRoot } from "./helpers/tiny-llama.js";

const haveWorker = existsSync(python) && existsSync(join(workerRoot, "tunekit_worker", "export.py"));

const THINGS = ["apple", "sky", "grass", "banana", "coal", "snow", "plum", "carrot"];
const SYSTEM = "You answer with one sentence.";

function colorData(color: string): string {
  const lines = [];
  for (let copy = 0; copy < 4; copy += 1) {
    for (const thing of THINGS) {
      lines.push(
        JSON.stringify({
          messages: [
            { role: "system", content: SYSTEM },
            { role: "user", content: `What color is the ${thing}?` },
            { role: "assistant", content: `The ${thing} is ${color}.` },
          ],
        }),
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

function ask(thing: string): OpenAI.Chat.ChatCompletionMessageParam[] {
  return [
    { role: "system", content: SYSTEM },
    { role: "user", content: `What color is the ${thing}?` },
  ];
}

/** A JSON array of at least 500 items: the grammar forbids ending the turn earlier, so the
 * request holds its slot for a while whatever the random weights prefer. */
const LONG_ANSWER = { type: "json_schema", json_schema: { name: "long", schema: { type: "array", items: { const: "red" }, minItems: 500 } } } as const;

let workDir: string;
let server: RunningServer;
let client: OpenAI;
const tuned: Record<string, string> = {};

async function train(color: string): Promise<string> {
  const file = await client.files.create({ file: await toFile(Buffer.from(colorData(color)), `${color}.jsonl`), purpose: "fine-tune" });
  const job = await client.fineTuning.jobs.create({
    model: "tiny-llama",
    training_file: file.id,
    suffix: color,
    hyperparameters: { n_epochs: 16, batch_size: 8 },
    // a fixed seed: without one a job draws its own (as OpenAI's do), and one run in a few dozen
    // trained an adapter that answered "The plue."
    seed: 3,
  });
  const deadline = Date.now() + 180_000;
  for (;;) {
    const now = await client.fineTuning.jobs.retrieve(job.id);
    if (now.status === "succeeded") return now.fine_tuned_model!;
    if (["failed", "cancelled"].includes(now.status) || Date.now() > deadline) throw new Error(`job ${job.id} ${now.status}: ${JSON.stringify(now.error)}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

async function waitFor(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<number> {
  const started = Date.now();
  while (!probe()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 5));
  }
  return Date.now() - started;
}

describe.skipIf(!haveWorker)("chat completions through tunekit server with the openai SDK", () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-serve-"));
    buildTinyLlama(join(workDir, "tiny-llama"));
    server = await startServer({
      port: 0,
      dataDir: join(workDir, "data"),
      noAuth: true,
      models: [join(workDir, "tiny-llama")],
      backend: new LocalExecutionBackend({ python, workerRoot }),
      trainingDefaults: {
        device: "cpu",
        threads: 1,
        learning_rate: 2e-2,
        warmup_ratio: 0,
        weight_decay: 0,
        lora: { r: 8, alpha: 16, dropout: 0, target_modules: "all-linear" },
        eval_every: 1000,
        checkpoint_every: 1000,
      },
      maxSeqLen: 128,
      serve: { parallelism: 1, maxQueue: 1, contextSize: 2048, worker: { python, workerRoot } },
    });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
    tuned.red = await train("red");
    tuned.blue = await train("blue");
  }, 400_000);

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("answers a base model without streaming: OpenAI's object, usage, and `length` at max_tokens", async () => {
    const completion = await client.chat.completions.create({ model: "tiny-llama", messages: ask("apple"), max_tokens: 3, temperature: 0 });
    expect(completion.object).toBe("chat.completion");
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe("tiny-llama");
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]!.message.role).toBe("assistant");
    expect(typeof completion.choices[0]!.message.content).toBe("string");
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(20);
    if (completion.choices[0]!.finish_reason === "length") expect(completion.usage!.completion_tokens).toBe(3);
    else expect(completion.usage!.completion_tokens).toBeLessThanOrEqual(3);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);

    // the raw answer, and the Azure-shaped route's, fit the response schema in /openapi.json
    const contract = await OpenApiContract.fetch(server.url);
    const post = async (path: string, body: unknown) =>
      (await fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json();
    contract.expectDocumented(
      "POST",
      "/v1/chat/completions",
      200,
      await post("/v1/chat/completions", { model: "tiny-llama", messages: ask("apple"), max_tokens: 3, temperature: 0 }),
    );
    contract.expectDocumented(
      "POST",
      "/v1/deployments/{deployment}/chat/completions",
      200,
      await post("/openai/deployments/tiny-llama/chat/completions?api-version=2024-10-21", { messages: ask("apple"), max_tokens: 3, temperature: 0 }),
    );
  });

  it("two adapters on one base answer differently and correctly, in the same process, and stop at end of turn", async () => {
    for (const thing of ["apple", "snow"]) {
      const red = await client.chat.completions.create({ model: tuned.red!, messages: ask(thing), temperature: 0, max_tokens: 40 });
      const blue = await client.chat.completions.create({ model: tuned.blue!, messages: ask(thing), temperature: 0, max_tokens: 40 });
      expect(red.choices[0]!.message.content).toContain("red");
      expect(red.choices[0]!.message.content).not.toContain("blue");
      expect(blue.choices[0]!.message.content).toContain("blue");
      expect(blue.choices[0]!.message.content).not.toContain("red");
      // the model's own end-of-turn token ends generation well before max_tokens, and is not in the text
      for (const answer of [red, blue]) {
        expect(answer.choices[0]!.finish_reason).toBe("stop");
        expect(answer.usage!.completion_tokens).toBeLessThan(20);
        expect(answer.choices[0]!.message.content).not.toContain("<|im_end|>");
      }
      expect(red.model).toBe(tuned.red);
    }
    // one base GGUF loaded once, a context per adapter
    const cached = (server.services.chat!.engine as LlamaCppEngine).cachedContexts;
    const adapterContexts = cached.filter((key) => key.includes("|"));
    expect(adapterContexts).toHaveLength(2);
    expect(new Set(adapterContexts.map((key) => key.split("|")[0]))).toEqual(new Set([cached.find((key) => !key.includes("|")) ?? adapterContexts[0]!.split("|")[0]]));
  });

  it("streams a fine-tuned model as chunks ending with [DONE], with the same text as without streaming", async () => {
    const whole = await client.chat.completions.create({ model: tuned.blue!, messages: ask("plum"), temperature: 0, max_tokens: 40 });
    const stream = await client.chat.completions.create({
      model: tuned.blue!,
      messages: ask("plum"),
      temperature: 0,
      max_tokens: 40,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(chunks[0]!.object).toBe("chat.completion.chunk");
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    expect(chunks.filter((chunk) => (chunk.choices[0]?.delta.content ?? "").length > 0).length).toBeGreaterThan(1);
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe("stop");
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(whole.usage!.completion_tokens);
  });

  it("constrains output to JSON with response_format json_object", async () => {
    const completion = await client.chat.completions.create({
      model: "tiny-llama",
      messages: ask("coal"),
      temperature: 0,
      max_tokens: 60,
      response_format: { type: "json_object" },
    });
    if (completion.choices[0]!.finish_reason === "stop") expect(() => JSON.parse(completion.choices[0]!.message.content!)).not.toThrow();
    expect(completion.choices[0]!.message.content!.trimStart()).toMatch(/^[{[]/);
  });

  it("a full queue answers 429 with Retry-After, and a cancelled stream frees its slot", async () => {
    const queue = server.services.chat!.queueOf(tuned.red!);
    const started = Date.now();
    const full = await client.chat.completions.create({ model: tuned.red!, messages: ask("grass"), temperature: 0, max_tokens: 1500, response_format: LONG_ANSWER as never });
    const fullMs = Date.now() - started;
    // the grammar forbids ending before 500 items: the answer runs to max_tokens (llama.cpp may leave
    // the last token or two of a cut generation, a partial character, out of the count)
    expect(full.choices[0]!.finish_reason).toBe("length");
    expect(full.usage!.completion_tokens).toBeGreaterThanOrEqual(1495);
    expect(full.usage!.completion_tokens).toBeLessThanOrEqual(1500);

    // one running (parallelism 1), one waiting (max queue 1), the third is refused
    const controller = new AbortController();
    const running = await client.chat.completions.create(
      { model: tuned.red!, messages: ask("grass"), temperature: 0, max_tokens: 1500, response_format: LONG_ANSWER as never, stream: true },
      { signal: controller.signal },
    );
    const iterator = running[Symbol.asyncIterator]();
    await iterator.next();
    const waiting = client.chat.completions.create({ model: tuned.red!, messages: ask("apple"), temperature: 0, max_tokens: 20 });
    await waitFor("a waiting request", () => queue.queued === 1);
    const refused = await client.chat.completions
      .create({ model: tuned.red!, messages: ask("apple"), max_tokens: 5 })
      .withResponse()
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimited = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimited.status).toBe(429);
    expect(Number(rateLimited.headers?.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(rateLimited.code).toBe("rate_limit_exceeded");
    (await OpenApiContract.fetch(server.url)).expectDocumented("POST", "/v1/chat/completions", 429, { error: rateLimited.error });

    // the client goes away: generation stops, the waiting request gets the slot and finishes
    const abortedAt = Date.now();
    controller.abort();
    const answer = await waiting;
    const freedMs = Date.now() - abortedAt;
    expect(answer.choices[0]!.message.content).toContain("red");
    expect(freedMs).toBeLessThan(fullMs / 2);
    await waitFor("an idle queue", () => queue.active === 0 && queue.queued === 0);
  });

  it("answers 404 for an unknown model and 400 naming the parameter for a bad request", async () => {
    const missing = await client.chat.completions.create({ model: "ft:nope:x:12345678", messages: ask("apple") }).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    const bad = await client.chat.completions.create({ model: "tiny-llama", messages: ask("apple"), temperature: 5 }).catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("temperature");
    const contract = await OpenApiContract.fetch(server.url);
    contract.expectDocumented("POST", "/v1/chat/completions", 404, { error: (missing as InstanceType<typeof OpenAI.NotFoundError>).error });
    contract.expectDocumented("POST", "/v1/chat/completions", 400, { error: (bad as InstanceType<typeof OpenAI.BadRequestError>).error });
  });
});
