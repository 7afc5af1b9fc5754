import { signal } from "@preact/signals";

/**
 * The UI's only way to the server: the public HTTP API (OpenAI's endpoints and /v1/tunekit), with
 * the API key from sessionStorage as a bearer token (never a cookie: no ambient credential, so no
 * CSRF surface). Every failure becomes an ApiError whose message is a sentence for the page.
 */

const KEY_STORAGE = "tunekit.apiKey";

export const apiKey = signal<string | null>(readStoredKey());
/** set when the server refused the key (or wants one): the page asks for a key */
export const authProblem = signal<string | null>(null);
/** false while the server cannot be reached (the page says so and keeps trying) */
export const serverReachable = signal(true);

function readStoredKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function setApiKey(key: string | null): void {
  apiKey.value = key;
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key lives in memory for this page
  }
  authProblem.value = null;
}

export function authHeaders(): Record<string, string> {
  return apiKey.value ? { authorization: `Bearer ${apiKey.value}` } : {};
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
    readonly param: string | null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface Envelope {
  error?: { message?: string; code?: string | null; param?: string | null };
}

/** The sentence for an error answer (the envelope's message, with auth and size errors said plainly). */
export function errorFromAnswer(status: number, body: unknown): ApiError {
  const error = (body as Envelope | null)?.error;
  const code = error?.code ?? null;
  const param = error?.param ?? null;
  if (status === 401) {
    const message =
      code === "missing_api_key"
        ? "This server needs an API key. Enter one below (create it with `tunekit keys create`)."
        : "The API key was refused: it is wrong, or it was revoked. Enter a valid key (create one with `tunekit keys create`).";
    authProblem.value = message;
    return new ApiError(message, status, code, param);
  }
  if (status === 413)
    return new ApiError(
      `The file is larger than this server accepts. ${error?.message ? stripFix(error.message) : ""} Split it, or restart the server with a larger \`--max-upload-mb\`.`
        .replace(/\s+/g, " ")
        .trim(),
      status,
      code,
      param,
    );
  return new ApiError(error?.message ?? `The server answered ${status}.`, status, code, param);
}

function stripFix(message: string): string {
  const [head] = message.split("; fix:");
  return `${(head ?? message).replace(/^the upload is/, "The upload is")}.`;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "DELETE";
  body?: unknown;
  signal?: AbortSignal;
}

/** JSON request to the API; resolves the JSON answer or throws ApiError. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? (options.body === undefined ? "GET" : "POST"),
      headers: { ...authHeaders(), ...(options.body === undefined ? {} : { "content-type": "application/json" }) },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      cache: "no-store",
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    serverReachable.value = false;
    throw new ApiError(`Cannot reach the Tunekit server at ${location.origin}: is it running? The page retries on its own.`, 0, "server_unreachable", null);
  }
  serverReachable.value = true;
  const body = (await response.json().catch(() => null)) as unknown;
  if (!response.ok) throw errorFromAnswer(response.status, body);
  if (authProblem.value) authProblem.value = null;
  return body as T;
}

/**
 * Upload a file (multipart, `purpose=fine-tune`) with progress. XMLHttpRequest, because fetch
 * cannot report upload progress. A dropped connection says that nothing was stored (the server
 * discards a partial upload).
 */
export function uploadFile(file: File, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<{ id: string; status: string; filename: string }> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/v1/files");
    for (const [name, value] of Object.entries(authHeaders())) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        // not JSON: described by the status below
      }
      if (request.status >= 200 && request.status < 300) resolve(body as { id: string; status: string; filename: string });
      else reject(errorFromAnswer(request.status, body));
    };
    request.onerror = () =>
      reject(
        new ApiError(
          `The connection to the server was lost while uploading \`${file.name}\`; nothing was stored. Check that the server runs and upload it again.`,
          0,
          "upload_interrupted",
          "file",
        ),
      );
    request.onabort = () => reject(new ApiError(`The upload of \`${file.name}\` was cancelled; nothing was stored.`, 0, "upload_cancelled", "file"));
    signal?.addEventListener("abort", () => request.abort(), { once: true });
    const form = new FormData();
    form.append("purpose", "fine-tune");
    form.append("file", file, file.name);
    request.send(form);
  });
}
