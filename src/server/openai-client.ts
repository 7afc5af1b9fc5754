import OpenAI from "openai";
import { TunekitError, type ErrorKind } from "../core/errors.js";

export const DEFAULT_SERVER = "http://127.0.0.1:8000";
/** sent when no key was given (a server started with --no-auth takes any); a 401 then says the key is missing */
const NO_KEY = "tunekit-no-key";

export interface ClientOptions {
  /** server URL, with or without /v1 (default TUNEKIT_SERVER, else http://127.0.0.1:8000) */
  server?: string;
  /** API key (default TUNEKIT_API_KEY; a server started with --no-auth needs none) */
  apiKey?: string;
}

/** The official openai SDK pointed at a Tunekit server: the CLI talks to the API the way users do. */
export function createClient(options: ClientOptions = {}, environment: NodeJS.ProcessEnv = process.env): { client: OpenAI; baseURL: string; apiKey: string } {
  const server = (options.server || environment.TUNEKIT_SERVER || DEFAULT_SERVER).replace(/\/+$/, "");
  if (!/^https?:\/\//i.test(server)) {
    throw new TunekitError(`\`${options.server ? "--server" : "TUNEKIT_SERVER"} ${server}\` has no scheme`, {
      kind: "usage",
      code: "invalid_url",
      field: options.server ? "--server" : "TUNEKIT_SERVER",
      fix: `write it with http:// or https://, e.g. ${server.includes("://") ? server.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "http://") : `http://${server}`}`,
    });
  }
  const baseURL = server.endsWith("/v1") ? server : `${server}/v1`;
  const given = options.apiKey || environment.TUNEKIT_API_KEY;
  const apiKey = given || NO_KEY;
  return { client: new OpenAI({ baseURL, apiKey, maxRetries: 1 }), baseURL, apiKey };
}

/** Turn an SDK failure into a TunekitError that keeps the server's message and parameter. */
export function clientError(error: unknown, baseURL: string, apiKey?: string): unknown {
  if (error instanceof OpenAI.APIError && error.status === 401 && apiKey === NO_KEY) {
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
