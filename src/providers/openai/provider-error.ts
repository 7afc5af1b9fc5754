import OpenAI from "openai";
import { TunekitError, type ErrorKind } from "../../core/errors.js";

/** What a provider says about where it lives, for messages that tell the user what to check. */
export interface ProviderContext {
  /** `openai`, `azure` */
  name: string;
  baseURL: string;
  /** the environment variable the key came from, for the 401 fix */
  apiKeyEnv?: string;
  /**
   * a Tunekit server the CLI talks to (`tunekit jobs`, `tunekit files`): messages name the server and
   * the CLI's flags; `keyGiven` false means no key was sent, so a 401 says one is needed
   */
  server?: { keyGiven: boolean };
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
  if (context.server) return serverError(error, context.baseURL, context.server.keyGiven);
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

/** The same for a Tunekit server: its message and `param` as the CLI reports them, with the CLI's flags in the fix. */
function serverError(error: unknown, baseURL: string, keyGiven: boolean): unknown {
  if (error instanceof OpenAI.APIError && error.status === 401 && !keyGiven) {
    return new TunekitError(`the Tunekit server at ${baseURL} needs an API key, and none was given`, {
      kind: "usage",
      code: "missing_api_key",
      field: "--api-key",
      fix: "pass `--api-key` or export TUNEKIT_API_KEY; create a key with `tunekit keys create`",
      cause: error,
    });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new TunekitError(`cannot reach the Tunekit server at ${baseURL}: ${error.message}`, {
      kind: "environment",
      code: "server_unreachable",
      field: "--server",
      fix: "start it with `tunekit server`, or pass `--server URL` (TUNEKIT_SERVER)",
      cause: error,
    });
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status ?? 0;
    const kind: ErrorKind = status === 404 ? "not_found" : status === 409 ? "conflict" : status >= 400 && status < 500 ? "usage" : "internal";
    const body = error.error as { message?: string } | undefined;
    // a Tunekit server ends its envelope's message with "; fix: ...": the CLI reports the two apart
    const [message, serverFix] = splitFix(body?.message ?? error.message);
    return new TunekitError(message, {
      kind,
      code: error.code ?? `http_${status}`,
      field: error.param ?? undefined,
      fix: serverFix ?? (status === 401 ? "pass `--api-key` (TUNEKIT_API_KEY); create one with `tunekit keys create`" : undefined),
      cause: error,
    });
  }
  return error;
}

/** "cannot cancel ...; fix: create a new job" -> the message and the fix */
function splitFix(message: string): [string, string | undefined] {
  const at = message.lastIndexOf("; fix: ");
  return at === -1 ? [message, undefined] : [message.slice(0, at), message.slice(at + "; fix: ".length)];
}
