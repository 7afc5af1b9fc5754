import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { followBytes, followEvents, SseParser } from "./event-stream.js";

describe("SseParser", () => {
  it("parses ids, multi-line data, comments and CRLF, across arbitrary chunk boundaries", () => {
    const stream = ': keep-alive\r\n\r\nid: ftevent-1\r\ndata: {"a":\r\ndata: 1}\r\n\r\nid: ftevent-2\ndata: two\n\ndata: [DONE]\n\n';
    for (const size of [1, 2, 3, 7, stream.length]) {
      const parser = new SseParser();
      const messages = [];
      for (let index = 0; index < stream.length; index += size) messages.push(...parser.feed(stream.slice(index, index + size)));
      expect(messages).toEqual([
        { id: "ftevent-1", event: null, data: '{"a":\n1}' },
        { id: "ftevent-2", event: null, data: "two" },
        { id: "ftevent-2", event: null, data: "[DONE]" },
      ]);
    }
  });
});

/** A real HTTP server streaming numbered events; `plan` decides, per connection, after how many events it drops the connection. */
function eventServer(
  total: number,
  plan: (connection: number) => number | null,
  replay = 0,
): Promise<{ server: Server; url: string; requests: Array<{ after: string | null; lastEventId: string | undefined }> }> {
  const requests: Array<{ after: string | null; lastEventId: string | undefined }> = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const after = url.searchParams.get("after");
    requests.push({ after, lastEventId: request.headers["last-event-id"] as string | undefined });
    const dropAfter = plan(requests.length);
    response.writeHead(200, { "content-type": "text/event-stream" });
    // start after the cursor; on a reconnect, `replay` events before it are sent again (a server that repeats itself)
    let next = after ? Number(after.split("-")[1]) + 1 - (requests.length > 1 ? replay : 0) : 1;
    let sent = 0;
    const tick = () => {
      if (dropAfter !== null && sent === dropAfter) {
        response.socket?.destroy();
        return;
      }
      if (next > total) {
        response.end("data: [DONE]\n\n");
        return;
      }
      response.write(`id: ev-${next}\ndata: ${JSON.stringify({ id: `ev-${next}`, n: next })}\n\n`);
      next += 1;
      sent += 1;
      setTimeout(tick, 2);
    };
    tick();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests })));
}

let open: Server | null = null;
afterEach(() => {
  open?.close();
  open = null;
});

describe("followEvents", () => {
  it("resumes after the last delivered event when the connection drops: every event once, in order", async () => {
    const { server, url, requests } = await eventServer(20, (connection) => (connection === 1 ? 7 : connection === 2 ? 5 : null));
    open = server;
    const seen: number[] = [];
    const states: string[] = [];
    const outcome = await followEvents<{ id: string; n: number }>({
      url: (after) => `${url}/events${after ? `?after=${after}` : ""}`,
      headers: () => ({ authorization: "Bearer tk-test" }),
      after: null,
      onEvent: (event) => seen.push(event.n),
      onState: (state) => states.push(state),
      signal: new AbortController().signal,
      retryDelayMs: 5,
    });
    expect(outcome).toBe("done");
    expect(seen).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    expect(requests.map((request) => request.after)).toEqual([null, "ev-7", "ev-12"]);
    expect(requests[1]?.lastEventId).toBe("ev-7");
    expect(states).toContain("reconnecting");
    expect(states.at(-1)).toBe("done");
  });

  it("starts after a given id (a reload that already showed events), and skips events a server sends again after a reconnect", async () => {
    const { server, url, requests } = await eventServer(10, (connection) => (connection === 1 ? 3 : null), 2);
    open = server;
    const seen: number[] = [];
    await followEvents<{ id: string; n: number }>({
      url: (after) => `${url}/events${after ? `?after=${after}` : ""}`,
      headers: () => ({}),
      after: "ev-4",
      onEvent: (event) => seen.push(event.n),
      signal: new AbortController().signal,
      retryDelayMs: 5,
    });
    // first answer: ev-5..ev-7, then the connection drops; the reconnect after ev-7 replays ev-6, ev-7 first
    expect(seen).toEqual([5, 6, 7, 8, 9, 10]);
    expect(requests.map((request) => request.after)).toEqual(["ev-4", "ev-7"]);
  });

  it("keeps retrying while the server is away, and stops on an error that retrying will not fix", async () => {
    const seen: string[] = [];
    let calls = 0;
    const fetchDown = (async () => {
      calls += 1;
      if (calls < 3) throw new TypeError("fetch failed");
      return new Response(JSON.stringify({ error: { message: "no job", code: "job_not_found" } }), { status: 404 });
    }) as typeof fetch;
    const outcome = await followEvents<{ id: string }>({
      url: () => "http://127.0.0.1:1/x",
      headers: () => ({}),
      after: null,
      onEvent: (event) => seen.push(event.id),
      signal: new AbortController().signal,
      fetch: fetchDown,
      retryDelayMs: 1,
    });
    expect(outcome).toBe("stopped");
    expect(calls).toBe(3);
  });
});

describe("followBytes", () => {
  it("reconnects with the bytes received, so no byte is repeated or lost, and a character split between answers decodes whole", async () => {
    const text = "line one\nзначение ✓ two\nthree\n";
    const bytes = Buffer.from(text, "utf8");
    const offsets: number[] = [];
    // each answer sends 5 bytes from the offset (cutting multi-byte characters), then closes
    const server = createServer((request, response) => {
      const offset = Number(new URL(request.url ?? "/", "http://x").searchParams.get("offset"));
      offsets.push(offset);
      response.writeHead(200, { "content-type": "text/plain" });
      response.end(bytes.subarray(offset, offset + 5));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    open = server;
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let received = "";
    let ended = false;
    const outcome = await followBytes({
      url: (offset) => `${url}/log?offset=${offset}`,
      headers: () => ({}),
      offset: 0,
      onText: (chunk) => {
        received += chunk;
      },
      finished: () => {
        ended = offsets.at(-1)! + 5 >= bytes.length;
        return ended;
      },
      signal: new AbortController().signal,
      retryDelayMs: 1,
    });
    expect(outcome).toBe("done");
    expect(received).toBe(text);
    expect(offsets).toEqual(Array.from({ length: Math.ceil(bytes.length / 5) }, (_, index) => index * 5));
  });
});
