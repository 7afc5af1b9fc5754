/**
 * Server-sent events read with `fetch` and a streaming reader (not EventSource, so that the
 * Authorization header goes with the request), and a follower that resumes a job's event stream
 * after a dropped connection or a server restart from the last event id it delivered: nothing is
 * missed, nothing is shown twice.
 */

export interface SseMessage {
  id: string | null;
  event: string | null;
  data: string;
}

/** Incremental parser of the text/event-stream format (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private id: string | null = null;
  private event: string | null = null;

  /** Feed decoded text; returns the messages completed by it. */
  feed(text: string): SseMessage[] {
    this.buffer += text;
    const messages: SseMessage[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // a lone \r at the very end may be the first half of \r\n: wait for more
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      if (line === "") {
        if (this.data.length > 0) messages.push({ id: this.id, event: this.event, data: this.data.join("\n") });
        this.data = [];
        this.event = null;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.data.push(value);
      else if (field === "id") this.id = value;
      else if (field === "event") this.event = value;
    }
    return messages;
  }
}

export type StreamState = "connecting" | "live" | "reconnecting" | "done";

export interface FollowOptions<T extends { id: string }> {
  /** the stream's URL for a cursor: the events after `after` (null: from the first) */
  url(after: string | null): string;
  /** headers of every request (Authorization) */
  headers(): Record<string, string>;
  /** the id of the last event already shown (resume a reload from it), or null */
  after: string | null;
  onEvent(event: T): void;
  onState?(state: StreamState, detail?: string): void;
  /** an answer that is not 2xx: return true to keep retrying (a restarting server), false to stop */
  onHttpError?(status: number, body: unknown): boolean;
  signal: AbortSignal;
  fetch?: typeof fetch;
  /** first retry delay; doubles up to maxDelayMs */
  retryDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Follow a stream of JSON events to its `[DONE]`, reconnecting with the id of the last event
 * delivered. Events already delivered are skipped if a server sends them again. Resolves "done"
 * at `[DONE]`, "aborted" when the signal aborts, "stopped" when onHttpError says so.
 */
export async function followEvents<T extends { id: string }>(options: FollowOptions<T>): Promise<"done" | "aborted" | "stopped"> {
  const fetchImpl = options.fetch ?? fetch;
  const seen = new Set<string>();
  let after = options.after;
  let delay = options.retryDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 5_000;
  let attempt = 0;
  while (!options.signal.aborted) {
    options.onState?.(attempt === 0 ? "connecting" : "reconnecting");
    attempt += 1;
    try {
      const response = await fetchImpl(options.url(after), {
        headers: { accept: "text/event-stream", ...options.headers(), ...(after ? { "last-event-id": after } : {}) },
        signal: options.signal,
        cache: "no-store",
      });
      if (!response.ok || !response.body) {
        const body = await response.json().catch(() => null);
        if (!(options.onHttpError?.(response.status, body) ?? response.status >= 500)) return "stopped";
      } else {
        options.onState?.("live");
        delay = options.retryDelayMs ?? 500;
        const parser = new SseParser();
        const decoder = new TextDecoder();
        const reader = response.body.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const message of parser.feed(decoder.decode(value, { stream: true }))) {
            if (message.data === "[DONE]") {
              options.onState?.("done");
              await reader.cancel().catch(() => undefined);
              return "done";
            }
            const event = JSON.parse(message.data) as T;
            if (event && typeof event === "object" && "error" in event && !("id" in event)) continue;
            if (seen.has(event.id)) continue;
            seen.add(event.id);
            after = event.id;
            options.onEvent(event);
          }
        }
      }
    } catch (error) {
      if (options.signal.aborted) return "aborted";
      options.onState?.("reconnecting", (error as Error).message);
    }
    await sleep(delay, options.signal);
    delay = Math.min(maxDelay, delay * 2);
  }
  return "aborted";
}

export interface FollowBytesOptions {
  url(offset: number): string;
  headers(): Record<string, string>;
  offset: number;
  /** decoded text, in order, exactly once */
  onText(text: string): void;
  /** true once the source will not grow any more (the job ended): a clean end of the answer then stops */
  finished(): boolean;
  onState?(state: StreamState, detail?: string): void;
  signal: AbortSignal;
  fetch?: typeof fetch;
  retryDelayMs?: number;
}

/**
 * Follow a growing text file served from a byte offset (a job's worker log): reconnect with the
 * count of bytes received, so that a reconnect neither repeats nor skips a byte; a multi-byte
 * character cut between two answers is decoded whole.
 */
export async function followBytes(options: FollowBytesOptions): Promise<"done" | "aborted" | "stopped"> {
  const fetchImpl = options.fetch ?? fetch;
  let offset = options.offset;
  const decoder = new TextDecoder();
  let attempt = 0;
  while (!options.signal.aborted) {
    options.onState?.(attempt === 0 ? "connecting" : "reconnecting");
    attempt += 1;
    try {
      const response = await fetchImpl(options.url(offset), { headers: options.headers(), signal: options.signal, cache: "no-store" });
      if (!response.ok || !response.body) {
        if (response.status < 500) return "stopped";
      } else {
        options.onState?.("live");
        const reader = response.body.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          offset += value.byteLength;
          const text = decoder.decode(value, { stream: true });
          if (text) options.onText(text);
        }
        if (options.finished()) {
          options.onState?.("done");
          return "done";
        }
      }
    } catch (error) {
      if (options.signal.aborted) return "aborted";
      options.onState?.("reconnecting", (error as Error).message);
    }
    await sleep(options.retryDelayMs ?? 1_000, options.signal);
  }
  return "aborted";
}

function sleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, milliseconds);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
