import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** Every answer of the server: nothing may load from, or be sent to, another origin. */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Paths that belong to the API, never to the single-page app's fallback. */
export function isApiPath(url: string): boolean {
  const path = url.split("?")[0] ?? "";
  return path === "/v1" || path.startsWith("/v1/") || path.startsWith("/openai") || path === "/openapi.json" || path === "/health";
}

/**
 * The web UI (src/web, built by Vite into dist/web) at `/`: hashed assets under /assets/ are
 * cached for good (`immutable`), index.html never (`no-cache`, so a new build is seen at once), and
 * any other GET that is not an API path answers index.html (the app's router takes it from there).
 * Returns the not-found fallback that serves the app (true when it answered), or null when the UI
 * is not built.
 */
export async function registerWebUi(app: FastifyInstance, webRoot: string): Promise<((request: FastifyRequest, reply: FastifyReply) => boolean) | null> {
  app.addHook("onSend", async (_request, reply, payload) => {
    reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    return payload;
  });
  if (!existsSync(join(webRoot, "index.html"))) return null;
  await app.register(fastifyStatic, {
    root: webRoot,
    prefix: "/",
    index: false,
    wildcard: false,
    cacheControl: false,
    setHeaders(reply, path) {
      reply.header("cache-control", /[\\/]assets[\\/]/.test(path) ? "public, max-age=31536000, immutable" : "no-cache");
    },
  });
  return (request, reply) => {
    const accepts = request.headers.accept ?? "";
    const path = request.url.split("?")[0] ?? "";
    // an app route (no file extension) asked for as a page; a missing asset stays a 404
    const isAppRoute = !/\.[A-Za-z0-9]+$/.test(path.split("/").pop() ?? "");
    if (
      (request.method === "GET" || request.method === "HEAD") &&
      !isApiPath(request.url) &&
      isAppRoute &&
      (accepts.includes("text/html") || accepts.includes("*/*") || accepts === "")
    ) {
      void reply.header("cache-control", "no-cache").sendFile("index.html");
      return true;
    }
    return false;
  };
}
