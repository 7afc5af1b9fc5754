import OpenAI from "openai";
import { TunekitError, type ErrorKind } from "../../core/errors.js";

/** What a provider says about where it lives, for messages that tell the user what to check. */
export interface ProviderContext {
  /** `openai`, `azure` */
  name: string;
  baseURL: string;
  /** the environment variable the key came from, for the 401 fix */
  apiKeyEnv?: string;
}

function kindOf(status: number): ErrorKind {
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 429 || status >= 500) return "environment";
  return "usage";
}

/**
 * An SDK failure (after the SDK's own retries) as a TunekitError that keeps the provider's
 * message, code and `param`, and says what to do: the same error contract as the local provider.
 */
export function providerError(error: unknown, context: ProviderContext): unknown {
  if (error instanceof OpenAI.APIConnectionError) {
    return new TunekitError(`cannot reach the \`${context.name}\` provider at ${context.baseURL}: ${error.message}`, {
      kind: "environment",
      code: "provider_unreachable",
      field: `${context.name}.${context.name === "azure" ? "endpoint" : "base_url"}`,
      fix: "check the URL and the network; the request was retried with backoff before giving up",
      cause: error,
    });
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status ?? 0;
    const body = error.error as { message?: string } | undefined;
    const message = body?.message ?? error.message;
    const fix =
      status === 401 || status === 403
        ? `check the API key${context.apiKeyEnv ? ` in \`${context.apiKeyEnv}\`` : ""} and that it may use fine-tuning`
        : status === 429
          ? "the provider is rate limiting or out of quota after every retry: wait, raise `max_retries`, or check the account's limits"
          : status >= 500
            ? "the provider failed after every retry; try again later"
            : undefined;
    return new TunekitError(`${context.name}: ${message}`, {
      kind: kindOf(status),
      code: error.code ?? `http_${status}`,
      field: error.param ?? undefined,
      fix: message.includes("fix:") ? undefined : fix,
      cause: error,
    });
  }
  return error;
}
