import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { TunekitError } from "../core/errors.js";
import type { GenerationRequest, GenerationResult, InferenceEngine, ServedModel } from "../spec/inference-engine.js";

export interface VllmEngineOptions {
  /** an OpenAI-compatible vLLM server to use (e.g. http://gpu-box:8000); none = start `vllm serve` per base model */
  url?: string;
  /** the `vllm` executable (default: `vllm` on PATH) */
  command?: string;
  parallelism?: number;
  /** adapters vLLM keeps loaded at once (`--max-loras`) */
  maxLoras?: number;
  /** largest adapter rank (`--max-lora-rank`) */
  maxLoraRank?: number;
  /** how long a started vLLM may take to answer /health (default 10 minutes: it compiles kernels) */
  startTimeoutMs?: number;
}

interface VllmServer {
  url: string;
  process: ChildProcess | null;
  adapters: Set<string>;
}

/**
 * vLLM for GPUs and scale, driven as a client: Tunekit starts `vllm serve BASE --enable-lora` (with
 * runtime LoRA updating on) or connects to a given URL, registers each fine-tuned adapter with
 * POST /v1/load_lora_adapter under the `ft:` id, and forwards chat completions (streamed) to it. vLLM
 * applies the model's chat template and stop tokens itself.
 */
export class VllmEngine implements InferenceEngine {
  readonly name = "vllm" as const;
  readonly parallelism: number;
  private readonly servers = new Map<string, Promise<VllmServer>>();

  constructor(private readonly options: VllmEngineOptions = {}) {
    this.parallelism = options.parallelism ?? 64;
  }

  async generate(served: ServedModel, request: GenerationRequest, onText: (text: string) => void): Promise<GenerationResult> {
    const server = await this.server(served.base);
    let model = served.base;
    if (served.adapter) {
      if (!server.adapters.has(served.id)) {
        await this.post(server.url, "/v1/load_lora_adapter", { lora_name: served.id, lora_path: served.adapter }, request.signal);
        server.adapters.add(served.id);
      }
      model = served.id;
    }
    const body = {
      model,
      messages: request.messages,
      max_tokens: request.maxTokens ?? undefined,
      temperature: request.temperature,
      top_p: request.topP,
      seed: request.seed ?? undefined,
      stop: request.stop.length > 0 ? request.stop : undefined,
      stream: true,
      stream_options: { include_usage: true },
      ...(request.responseFormat.type === "json_object" ? { response_format: { type: "json_object" } } : {}),
      ...(request.responseFormat.type === "json_schema"
        ? { response_format: { type: "json_schema", json_schema: { name: request.responseFormat.name, schema: request.responseFormat.schema } } }
        : {}),
    };
    const response = await this.fetch(server.url, "/v1/chat/completions", body, request.signal);
    let text = "";
    let finishReason: GenerationResult["finishReason"] = "stop";
    let usage = { prompt_tokens: 0, completion_tokens: 0 };
    try {
      for await (const data of serverSentData(response.body!)) {
        if (data === "[DONE]") break;
        const chunk = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string }; finish_reason?: string | null }>; usage?: typeof usage | null };
        for (const choice of chunk.choices ?? []) {
          if (choice.delta?.content) {
            text += choice.delta.content;
            onText(choice.delta.content);
          }
          if (choice.finish_reason === "length") finishReason = "length";
        }
        if (chunk.usage) usage = chunk.usage;
      }
    } catch (error) {
      if (!request.signal.aborted) throw error;
    }
    return { text, finishReason, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens };
  }

  async close(): Promise<void> {
    const servers = await Promise.allSettled(this.servers.values());
    this.servers.clear();
    for (const server of servers) if (server.status === "fulfilled") server.value.process?.kill("SIGTERM");
  }

  private server(base: string): Promise<VllmServer> {
    const key = this.options.url ? "url" : base;
    let server = this.servers.get(key);
    if (!server) {
      server = this.options.url
        ? Promise.resolve({ url: this.options.url.replace(/\/+$/, "").replace(/\/v1$/, ""), process: null, adapters: new Set<string>() })
        : this.start(base);
      server.catch(() => this.servers.delete(key));
      this.servers.set(key, server);
    }
    return server;
  }

  private async start(base: string): Promise<VllmServer> {
    const command = this.options.command ?? "vllm";
    assertVllmInstalled(command);
    const port = await freePort();
    const child = spawn(
      command,
      [
        "serve",
        base,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--enable-lora",
        "--max-loras",
        String(this.options.maxLoras ?? 8),
        "--max-lora-rank",
        String(this.options.maxLoraRank ?? 64),
      ],
      { shell: false, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, VLLM_ALLOW_RUNTIME_LORA_UPDATING: "True" } },
    );
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 600_000);
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new TunekitError(`\`vllm serve ${base}\` exited with code ${child.exitCode} before it was ready`, {
          kind: "environment",
          code: "vllm_failed",
          field: "model",
          fix: "run the command by hand to see vLLM's error (it needs a supported GPU)",
        });
      try {
        if ((await fetch(`${url}/health`)).ok) return { url, process: child, adapters: new Set() };
      } catch {
        // not listening yet
      }
      await sleep(1000);
    }
    child.kill("SIGTERM");
    throw new TunekitError(`\`vllm serve ${base}\` did not become ready in time`, { kind: "environment", code: "vllm_failed", field: "model" });
  }

  private async post(url: string, path: string, body: unknown, signal: AbortSignal): Promise<void> {
    await this.fetch(url, path, body, signal);
  }

  private async fetch(url: string, path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new TunekitError(`cannot reach vLLM at ${url}: ${(error as Error).message}`, {
        kind: "environment",
        code: "vllm_unreachable",
        field: "--vllm-url",
        fix: "check that vLLM is running there",
      });
    }
    if (!response.ok) {
      const text = await response.text();
      throw new TunekitError(`vLLM answered ${response.status} to ${path}: ${text.slice(0, 500)}`, {
        kind: response.status < 500 ? "usage" : "worker",
        code: "vllm_error",
        field: "model",
      });
    }
    return response;
  }
}

/** A clear error when the `vllm` command is missing (the common case on a machine without a GPU). */
export function assertVllmInstalled(command = "vllm"): void {
  const probe = spawnSync(command, ["--version"], { shell: false, encoding: "utf8", timeout: 60_000 });
  if (probe.error || probe.status !== 0) {
    throw new TunekitError(`vLLM is not installed (\`${command} --version\` ${probe.error ? `failed: ${probe.error.message}` : `exited ${probe.status}`})`, {
      kind: "environment",
      code: "vllm_not_installed",
      field: "--engine",
      fix: "install it on a machine with a supported GPU (`pip install vllm`), or pass `--vllm-url` of a running `vllm serve --enable-lora`, or use `--engine llama-cpp`",
    });
  }
}

async function* serverSentData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const piece of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(piece, { stream: true });
    let boundary: number;
    while ((boundary = buffer.indexOf("\n\n")) !== -1) {
      const event = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      for (const line of event.split("\n")) if (line.startsWith("data:")) yield line.slice(5).trim();
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}
