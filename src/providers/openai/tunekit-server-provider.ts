import OpenAI from "openai";
import { TunekitError } from "../../core/errors.js";
import { OpenAIFineTuneProvider } from "./openai-fine-tune-provider.js";

export const DEFAULT_SERVER = "http://127.0.0.1:8000";
/** sent when no key was given (a server started with --no-auth takes any); a 401 then says the key is missing */
const NO_KEY = "tunekit-no-key";

export interface TunekitServerOptions {
  /** server URL, with or without /v1 (default TUNEKIT_SERVER, else http://127.0.0.1:8000) */
  server?: string;
  /** API key (default TUNEKIT_API_KEY; a server started with --no-auth needs none) */
  apiKey?: string;
}

export interface TunekitServerProvider {
  provider: OpenAIFineTuneProvider;
  /** the API's base URL (ending in /v1) */
  baseURL: string;
  apiKey: string;
}

/**
 * The FineTuneProvider of a Tunekit server, over the official `openai` SDK: the CLI's `jobs`, `files`
 * and `models` commands talk to the API the way users do. Errors name the server and the CLI's flags.
 */
export function createTunekitServerProvider(options: TunekitServerOptions = {}, environment: NodeJS.ProcessEnv = process.env): TunekitServerProvider {
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
  const provider = new OpenAIFineTuneProvider(new OpenAI({ baseURL, apiKey, maxRetries: 1 }), { name: "tunekit", baseURL, server: { keyGiven: Boolean(given) } });
  return { provider, baseURL, apiKey };
}
