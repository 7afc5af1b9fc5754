// Measures one cold first load of a web UI in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core): the JS and CSS it downloads (raw and gzipped by us at level 9, whatever the server's
// content-encoding was), every request, the ones that went to another origin or failed, and the time
// from navigation start to the first screen being visible.
//
// Nothing leaves the machine: each browser context sends every non-loopback request (and preconnect) to
// a proxy on 127.0.0.1 that closes the connection at once, so a CDN asset fails the way it does offline
// and shows up in otherOriginRequests and failedRequests. Chromium's own profile still looks up
// clients2.google.com, update.googleapis.com and start.duckduckgo.com at start-up despite the flags
// below (DNS only, seen with a stand-in resolver): for no outside traffic at all, run in a loopback-only
// network namespace, as bench/web/peers-demo.ts does.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium, type Request, type Response } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../../test/helpers/browser.js";

export interface PageFigures {
  label: string;
  url: string;
  jsBytes: number;
  cssBytes: number;
  jsCssGzipBytes: number;
  requests: number;
  otherOriginRequests: string[];
  failedRequests: string[];
  firstRenderMs: number;
  loadEventMs: number;
  consoleErrors: string[];
}

export interface MeasureOptions {
  /** CSS selector of an element that is visible once the first screen is rendered. */
  readySelector?: string;
  /** Text that is visible once the first screen is rendered (inside readySelector when both are given). */
  readyText?: string;
  timeoutMs?: number;
  label: string;
}

export interface MedianFigures {
  label: string;
  url: string;
  runs: PageFigures[];
  /** Numbers: the median over runs. Lists: every entry seen in any run. */
  median: PageFigures;
}

const chromiumPath = process.env.CHROMIUM_PATH ?? CHROMIUM;
const chromiumArguments = CHROMIUM_ARGS;
/** After the first screen and the load event, resources still count until no request has started for this long. */
const quietPeriodMs = 1000;
const maxSettleMs = 10_000;

export async function measurePage(url: string, options: MeasureOptions): Promise<PageFigures> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const pageOrigin = new URL(url).origin;
  const userDataDirectory = await mkdtemp(join(tmpdir(), "tunekit-measure-page-"));
  const closedProxy = await startClosedProxy();
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    ignoreDefaultArgs: true,
    // --remote-debugging-pipe is how playwright talks to the browser, not a behaviour switch.
    args: [...chromiumArguments, `--user-data-dir=${userDataDirectory}`, "--remote-debugging-pipe"],
    timeout: timeoutMs,
  });
  try {
    const context = await browser.newContext({
      proxy: { server: `http://127.0.0.1:${closedProxy.port}`, bypass: "localhost,127.0.0.1,[::1]" },
      serviceWorkers: "block",
    });
    const condition = { selector: options.readySelector ?? null, text: options.readyText ?? null };
    // As source text: tsx (esbuild keepNames) wraps inner functions in __name(), which the page lacks.
    await context.addInitScript({ content: `var __name = (target) => target; (${watchFirstRender})(${JSON.stringify(condition)});` });
    const page = await context.newPage();
    const devtools = await context.newCDPSession(page);
    await devtools.send("Network.setCacheDisabled", { cacheDisabled: true });

    let requests = 0;
    let lastRequestAt = Date.now();
    const otherOriginRequests: string[] = [];
    const failedRequests: string[] = [];
    const consoleErrors: string[] = [];
    const bodies: Array<Promise<{ kind: "js" | "css"; body: Buffer } | null>> = [];
    page.on("request", (request: Request) => {
      requests += 1;
      lastRequestAt = Date.now();
      const requestUrl = request.url();
      if (!requestUrl.startsWith("data:") && !requestUrl.startsWith("blob:") && new URL(requestUrl).origin !== pageOrigin) {
        otherOriginRequests.push(requestUrl);
      }
    });
    page.on("requestfailed", (request: Request) => failedRequests.push(`${request.url()} (${request.failure()?.errorText ?? "failed"})`));
    page.on("response", (response: Response) => {
      if (response.status() >= 400) failedRequests.push(`${response.url()} (HTTP ${response.status()})`);
      const kind = assetKind(response);
      if (kind && response.status() < 300)
        bodies.push(
          response.body().then(
            (body) => ({ kind, body }),
            () => null,
          ),
        );
    });
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => consoleErrors.push(`uncaught: ${error.message}`));

    await page.goto(url, { waitUntil: "commit", timeout: timeoutMs });
    const readyAt = await page
      .waitForFunction(() => (window as WatchedWindow).firstRenderAt ?? false, undefined, { polling: 50, timeout: timeoutMs })
      .then((handle) => handle.jsonValue() as Promise<number>)
      .catch((error: Error) => {
        throw new Error(
          `${options.label}: first screen not visible within ${timeoutMs} ms (${error.message.split("\n")[0]}); failed requests: ${failedRequests.join(", ") || "none"}`,
        );
      });
    await page.waitForLoadState("load", { timeout: timeoutMs });
    const loadEventMs = await page.evaluate(() => (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).loadEventEnd);
    const settleStarted = Date.now();
    while (Date.now() - lastRequestAt < quietPeriodMs && Date.now() - settleStarted < maxSettleMs) await page.waitForTimeout(100);

    const assets = (await Promise.all(bodies)).filter((asset) => asset !== null);
    const bytesOf = (kind: "js" | "css") => assets.filter((asset) => asset.kind === kind).reduce((total, asset) => total + asset.body.length, 0);
    return {
      label: options.label,
      url,
      jsBytes: bytesOf("js"),
      cssBytes: bytesOf("css"),
      jsCssGzipBytes: assets.reduce((total, asset) => total + gzipSync(asset.body, { level: 9 }).length, 0),
      requests,
      otherOriginRequests,
      failedRequests,
      firstRenderMs: Math.round(readyAt),
      loadEventMs: Math.round(loadEventMs),
      consoleErrors,
    };
  } finally {
    await browser.close();
    closedProxy.server.close();
    await rm(userDataDirectory, { recursive: true, force: true });
  }
}

/** Measures `runs` cold loads one after another, each in a fresh browser, and gives each run and the median. */
export async function measureMedian(url: string, options: MeasureOptions, runs = 3): Promise<MedianFigures> {
  const figures: PageFigures[] = [];
  for (let run = 0; run < runs; run += 1) figures.push(await measurePage(url, options));
  const median = (pick: (run: PageFigures) => number) => {
    const sorted = figures.map(pick).sort((left, right) => left - right);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle]! : Math.round((sorted[middle - 1]! + sorted[middle]!) / 2);
  };
  const union = (pick: (run: PageFigures) => string[]) => [...new Set(figures.flatMap(pick))];
  return {
    label: options.label,
    url,
    runs: figures,
    median: {
      label: options.label,
      url,
      jsBytes: median((run) => run.jsBytes),
      cssBytes: median((run) => run.cssBytes),
      jsCssGzipBytes: median((run) => run.jsCssGzipBytes),
      requests: median((run) => run.requests),
      otherOriginRequests: union((run) => run.otherOriginRequests),
      failedRequests: union((run) => run.failedRequests),
      firstRenderMs: median((run) => run.firstRenderMs),
      loadEventMs: median((run) => run.loadEventMs),
      consoleErrors: union((run) => run.consoleErrors),
    },
  };
}

function assetKind(response: Response): "js" | "css" | null {
  const type = response.request().resourceType();
  const contentType = response.headers()["content-type"] ?? "";
  if (type === "script" || contentType.includes("javascript")) return "js";
  if (type === "stylesheet" || contentType.includes("text/css")) return "css";
  return null;
}

type WatchedWindow = Window & { firstRenderAt?: number };

/**
 * Runs in the page before its own scripts: checks the ready condition every animation frame (after layout,
 * right before that frame is painted) and keeps performance.now() of the first frame where it holds.
 */
function watchFirstRender(condition: { selector: string | null; text: string | null }): void {
  const check = () => {
    const candidates = condition.selector ? Array.from(document.querySelectorAll<HTMLElement>(condition.selector)) : document.body ? [document.body] : [];
    const visible = candidates.some((element) => {
      const box = element.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || getComputedStyle(element).visibility === "hidden") return false;
      return condition.text === null || element.innerText.includes(condition.text);
    });
    if (visible) (window as WatchedWindow).firstRenderAt = performance.now();
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}

/** A loopback "proxy" that closes every connection: the browser's way out, so nothing reaches the network. */
async function startClosedProxy(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("closed proxy has no port");
  return { server, port: address.port };
}
