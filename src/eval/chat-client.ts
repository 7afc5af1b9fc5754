import OpenAI, { AzureOpenAI } from "openai";
import { TunekitError } from "../core/errors.js";
import type { ChatMessage } from "../spec/dataset.js";
import type { configSchema } from "../core/config-schema.js";
import type { z } from "zod";

export type EvalConfig = z.output<typeof configSchema>["eval"];
export type EndpointConfig = EvalConfig["base"];

/** One answer with what it cost. Token counts come from the API's `usage` when it reports one. */
export interface ChatAnswer {
  text: string;
  promptTokens: number | null;
  completionTokens: number | null;
  latencyMs: number;
}

export interface ChatRequestOptions {
  maxTokens: number;
  temperature: number;
  seed?: number;
}

/** A chat model behind an OpenAI-compatible API (the official SDK: OpenAI, Azure, vLLM, Tunekit). */
export interface ChatModel {
  readonly model: string;
  /** where it answers, for the report (no key) */
  readonly endpoint: string;
  complete(messages: readonly ChatMessage[], options: ChatRequestOptions): Promise<ChatAnswer>;
}

const OPENAI_BASE_URL = "https://api.openai.com/v1";

/** Build a client for an endpoint of the config (`field` names it in errors, e.g. `eval.base`). */
export function createChatModel(endpoint: EndpointConfig, model: string, field: string): ChatModel {
  const key = process.env[endpoint.api_key_env];
  const hostedOpenAi = endpoint.api === "openai" && endpoint.base_url === null;
  if (!key && (hostedOpenAi || endpoint.api === "azure")) {
    throw new TunekitError(`\`${field}.api_key_env\` names \`${endpoint.api_key_env}\`, which is not set`, {
      kind: "config",
      code: "missing_api_key",
      field: `${field}.api_key_env`,
      fix: `Export ${endpoint.api_key_env}=<key>, or point \`${field}.base_url\` at a local OpenAI-compatible server (\`tunekit serve\`, \`tunekit server\`, vLLM).`,
    });
  }
  // a local server without keys accepts any bearer token; the SDK insists on one
  const apiKey = key || "tunekit-local";
  let client: OpenAI;
  if (endpoint.api === "azure") {
    if (endpoint.base_url === null) {
      throw new TunekitError(`\`${field}.base_url\` must be the Azure OpenAI resource endpoint`, {
        kind: "config",
        code: "missing_base_url",
        field: `${field}.base_url`,
        fix: "Set it to https://<resource>.openai.azure.com/ and `model` to the deployment name.",
      });
    }
    client = new AzureOpenAI({ endpoint: endpoint.base_url, apiKey, apiVersion: endpoint.azure_api_version, deployment: model, maxRetries: 2 });
  } else {
    client = new OpenAI({ baseURL: endpoint.base_url ?? OPENAI_BASE_URL, apiKey, maxRetries: 2, timeout: 300_000 });
  }
  const where = endpoint.base_url ?? OPENAI_BASE_URL;
  return {
    model,
    endpoint: where,
    async complete(messages, options) {
      const started = performance.now();
      let response: OpenAI.Chat.Completions.ChatCompletion;
      try {
        response = await client.chat.completions.create({
          model,
          messages: messages.map((message) => ({ role: message.role, content: String(message.content ?? "") })) as OpenAI.Chat.Completions.ChatCompletionMessageParam[],
          max_tokens: options.maxTokens,
          temperature: options.temperature,
          ...(options.seed !== undefined && { seed: options.seed }),
        });
      } catch (error) {
        const status = (error as { status?: number }).status;
        throw new TunekitError(`\`${model}\` at ${where} did not answer${status ? ` (HTTP ${status})` : ""}: ${error instanceof Error ? error.message : String(error)}`, {
          kind: "environment",
          code: "model_request_failed",
          field,
          fix: `Check that the server at \`${field}.base_url\` is running and serves \`${model}\` (GET ${where}/models lists what it serves), and that the key in ${endpoint.api_key_env} is right.`,
          cause: error,
        });
      }
      const latencyMs = performance.now() - started;
      return {
        text: response.choices[0]?.message?.content ?? "",
        promptTokens: response.usage?.prompt_tokens ?? null,
        completionTokens: response.usage?.completion_tokens ?? null,
        latencyMs,
      };
    },
  };
}
