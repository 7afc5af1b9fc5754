import { z } from "zod";
import { TunekitError } from "../core/errors.js";
import type { InferenceMessage, ResponseFormat } from "../spec/inference-engine.js";

const contentPart = z.object({ type: z.string(), text: z.string().optional() }).passthrough();

const message = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
});

const responseFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({ name: z.string().default("response"), schema: z.record(z.string(), z.unknown()).default({}), strict: z.boolean().nullish() }),
  }),
]);

/** The body of POST /v1/chat/completions (also the OpenAPI document's request schema). */
export const chatRequestBodySchema = z.object({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  seed: z.number().int().nullish(),
  n: z.number().int().min(1).max(1, "only `n: 1` is supported").nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  response_format: responseFormat.nullish(),
  // refused rather than ignored: an answer without the tool calls or log-probabilities asked for would be wrong
  tools: z
    .array(z.unknown())
    .max(0, "tool calls are not supported by this server's models; send no `tools`, or constrain the answer with `response_format` (json_schema)")
    .nullish(),
  tool_choice: z
    .union([z.literal("none"), z.literal("auto")], { message: "`tool_choice` needs tools, which this server's models do not call; send `none` or leave it out" })
    .nullish(),
  logprobs: z.literal(false, { message: "log-probabilities are not returned by this server; leave `logprobs` out" }).nullish(),
  top_logprobs: z.literal(0, { message: "log-probabilities are not returned by this server; leave `top_logprobs` out" }).nullish(),
});

/** A chat completions request, checked and with OpenAI's defaults applied. */
export interface ChatRequest {
  model: string;
  messages: InferenceMessage[];
  temperature: number;
  topP: number;
  maxTokens: number | null;
  stop: string[];
  seed: number | null;
  stream: boolean;
  includeUsage: boolean;
  responseFormat: ResponseFormat;
}

/** Parse the body of POST /v1/chat/completions; every problem is a 400 naming the parameter. */
export function parseChatRequest(input: unknown): ChatRequest {
  const parsed = chatRequestBodySchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = issue.path.map(String).join(".") || "body";
    throw new TunekitError(`\`${param}\`: ${issue.message}`, {
      kind: "usage",
      code: "invalid_request",
      field: param,
      problems: parsed.error.issues.map((problem) => ({ code: problem.code, message: problem.message, field: problem.path.map(String).join(".") })),
    });
  }
  const request = parsed.data;
  const format = request.response_format ?? { type: "text" as const };
  return {
    model: request.model,
    messages: request.messages.map((entry) => ({ role: entry.role, content: textOf(entry.content) })),
    temperature: request.temperature ?? 1,
    topP: request.top_p ?? 1,
    maxTokens: request.max_completion_tokens ?? request.max_tokens ?? null,
    stop: request.stop === undefined || request.stop === null ? [] : typeof request.stop === "string" ? [request.stop] : request.stop,
    seed: request.seed ?? null,
    stream: request.stream ?? false,
    includeUsage: request.stream_options?.include_usage ?? false,
    responseFormat: format.type === "json_schema" ? { type: "json_schema", name: format.json_schema.name, schema: format.json_schema.schema } : format,
  };
}

function textOf(content: z.infer<typeof message>["content"]): string {
  if (typeof content === "string") return content;
  if (!content) return "";
  return content.map((part) => (part.type === "text" ? (part.text ?? "") : "")).join("");
}
