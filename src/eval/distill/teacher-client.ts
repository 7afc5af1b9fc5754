import OpenAI, { AzureOpenAI } from "openai";
import { TunekitError } from "../../core/errors.js";
import type { EndpointConfig } from "../chat-client.js";

/**
 * The teacher of `tunekit data distill`: one OpenAI-compatible chat completions endpoint (OpenAI,
 * Azure OpenAI, vLLM, `tunekit serve`/`tunekit server`) reached through the official SDK, built the
 * way the eval room builds its clients (src/eval/chat-client.ts) but with the SDK's own retries off:
 * distill retries itself so that it can count the 429s, honour their Retry-After and lower its
 * concurrency to what the teacher accepts (see adaptive-limit.ts).
 */
export interface TeacherMessage {
  role: string;
  content: unknown;
  name?: string;
  tool_calls?: unknown;
  tool_call_id?: string;
}

export interface TeacherRequest {
  messages: readonly TeacherMessage[];
  tools?: unknown[];
  parallel_tool_calls?: boolean;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
}

export interface TeacherAnswer {
  content: string | null;
  toolCalls: unknown[] | null;
  finishReason: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
}

/**
 * What a failed request means for the run:
 *  - `rate_limited`: 429 (not `insufficient_quota`): wait Retry-After, send again;
 *  - `retryable`: 408/409/5xx, a timeout, a dropped connection: back off, send again;
 *  - `prompt`: this prompt is refused (400, 413, 422, ...): record it, go on with the others;
 *  - `fatal`: every prompt would fail the same way (wrong key, unknown model, no quota, nothing
 *    listening): stop the run with one error.
 */
export type FailureKind = "rate_limited" | "retryable" | "prompt" | "fatal";

export interface TeacherFailure {
  kind: FailureKind;
  status: number | null;
  code: string | null;
  message: string;
  /** the server's wait (Retry-After / retry-after-ms), in milliseconds */
  retryAfterMs: number | null;
  /** a connection that never opened (nothing listening, DNS): fatal once the retries are spent */
  connection: boolean;
  aborted: boolean;
}

export interface TeacherClient {
  readonly model: string;
  /** where it answers (no key), for messages and the summary */
  readonly endpoint: string;
  complete(request: TeacherRequest, signal?: AbortSignal): Promise<TeacherAnswer>;
}

const OPENAI_BASE_URL = "https://api.openai.com/v1";

export function createTeacherClient(endpoint: EndpointConfig, model: string, options: { timeoutMs?: number } = {}): TeacherClient {
  const key = process.env[endpoint.api_key_env];
  const hostedOpenAi = endpoint.api === "openai" && (endpoint.base_url === null || /(^|\.)openai\.com$/u.test(hostname(endpoint.base_url)));
  if (!key && (hostedOpenAi || endpoint.api === "azure")) {
    throw new TunekitError(`\`--api-key-env\` names \`${endpoint.api_key_env}\`, which is not set`, {
      kind: "config",
      code: "missing_api_key",
      field: "--api-key-env",
      fix: `Export ${endpoint.api_key_env}=<key>, or point \`--base-url\` at a local OpenAI-compatible server (\`tunekit serve\`, \`tunekit server --no-auth\`, vLLM), which needs none.`,
    });
  }
  // a local server without keys accepts any bearer token; the SDK insists on one
  const apiKey = key || "tunekit-local";
  const timeout = options.timeoutMs ?? 300_000;
  let client: OpenAI;
  if (endpoint.api === "azure") {
    if (endpoint.base_url === null) {
      throw new TunekitError("`--base-url` must be the Azure OpenAI resource endpoint with `--api azure`", {
        kind: "usage",
        code: "missing_base_url",
        field: "--base-url",
        fix: "pass --base-url https://<resource>.openai.azure.com/ and the deployment name as --teacher",
      });
    }
    client = new AzureOpenAI({ endpoint: endpoint.base_url, apiKey, apiVersion: endpoint.azure_api_version, deployment: model, maxRetries: 0, timeout });
  } else {
    client = new OpenAI({ baseURL: endpoint.base_url ?? OPENAI_BASE_URL, apiKey, maxRetries: 0, timeout });
  }
  return {
    model,
    endpoint: endpoint.base_url ?? OPENAI_BASE_URL,
    async complete(request, signal) {
      const response = await client.chat.completions.create(
        {
          model,
          messages: request.messages as OpenAI.Chat.Completions.ChatCompletionMessageParam[],
          ...(request.tools !== undefined && { tools: request.tools as OpenAI.Chat.Completions.ChatCompletionTool[] }),
          ...(request.parallel_tool_calls !== undefined && { parallel_tool_calls: request.parallel_tool_calls }),
          ...(request.maxTokens !== undefined && { max_tokens: request.maxTokens }),
          ...(request.temperature !== undefined && { temperature: request.temperature }),
          ...(request.seed !== undefined && { seed: request.seed }),
        },
        { signal },
      );
      const choice = response.choices[0];
      const toolCalls = choice?.message?.tool_calls;
      return {
        content: choice?.message?.content ?? null,
        toolCalls: toolCalls && toolCalls.length > 0 ? toolCalls : null,
        finishReason: choice?.finish_reason ?? null,
        promptTokens: response.usage?.prompt_tokens ?? null,
        completionTokens: response.usage?.completion_tokens ?? null,
      };
    },
  };
}

function hostname(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return "";
  }
}

/** Classify an error thrown by the SDK (or anything else) for the retry loop. */
export function classifyFailure(error: unknown): TeacherFailure {
  const base = { status: null, code: null, retryAfterMs: null, connection: false, aborted: false };
  if (error instanceof OpenAI.APIUserAbortError) return { ...base, kind: "fatal", message: "aborted", aborted: true };
  if (error instanceof OpenAI.APIConnectionTimeoutError) return { ...base, kind: "retryable", message: `the request timed out (${error.message})` };
  if (error instanceof OpenAI.APIConnectionError) {
    const cause = (error as { cause?: { message?: string; code?: string; cause?: { code?: string; message?: string } } }).cause;
    const reason = cause?.cause?.code ?? cause?.code ?? cause?.cause?.message ?? cause?.message ?? error.message;
    return { ...base, kind: "retryable", message: `connection failed (${reason})`, connection: true };
  }
  if (error instanceof OpenAI.APIError) {
    const status = typeof error.status === "number" ? error.status : null;
    const code = typeof error.code === "string" ? error.code : null;
    const message = error.message;
    const retryAfterMs = retryAfterFromHeaders(error.headers as Headers | undefined);
    const failure = { ...base, status, code, message, retryAfterMs };
    if (status === 429) return { ...failure, kind: code === "insufficient_quota" ? "fatal" : "rate_limited" };
    if (status === 401 || status === 403 || status === 404) return { ...failure, kind: "fatal" };
    if (status === 408 || status === 409 || (status !== null && status >= 500)) return { ...failure, kind: "retryable" };
    return { ...failure, kind: "prompt" };
  }
  return { ...base, kind: "fatal", message: error instanceof Error ? error.message : String(error) };
}

/**
 * The wait a response asks for: `retry-after-ms` (OpenAI's, milliseconds) first, then
 * `Retry-After` as seconds or as an HTTP date (RFC 9110 §10.2.3). Null when neither is usable.
 */
export function retryAfterFromHeaders(headers: Pick<Headers, "get"> | undefined | null, now = Date.now()): number | null {
  if (!headers || typeof headers.get !== "function") return null;
  const milliseconds = headers.get("retry-after-ms");
  if (milliseconds !== null && milliseconds.trim() !== "") {
    const value = Number(milliseconds);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const header = headers.get("retry-after");
  if (header === null || header.trim() === "") return null;
  if (/^\s*\d+(\.\d+)?\s*$/u.test(header)) return Number(header) * 1000;
  const date = Date.parse(header);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}
