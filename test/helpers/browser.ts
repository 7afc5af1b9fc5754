import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

/** Debian's chromium, driven by playwright-core (never a downloaded browser). */
export const CHROMIUM = "/usr/bin/chromium";
/**
 * Headless, and quiet on the network: no background services, no component updates, no sync; the
 * resolver answers "not found" for every name (pages here load from 127.0.0.1 by address), so the
 * browser's own start-up lookups never leave the machine.
 */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
];

export const haveChromium = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  if (!haveChromium) throw new Error(`${CHROMIUM} is missing: install Debian's chromium with \`make chromium\``);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Where the browser tests write their screenshots (a reviewer looks at them). */
export const SCREENSHOTS = resolve("test-output", "web");

export interface GuardedPage {
  page: Page;
  context: BrowserContext;
  /** console errors and uncaught page errors not in `expected` */
  unexpectedErrors(): string[];
  /** requests to any origin but the server's (they are aborted, never sent) */
  foreignRequests: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A page that records what a test must not see: a console error (other than the ones the test
 * provokes on purpose, matched by `expected`), an uncaught exception, or a request to another origin
 * (aborted before it leaves). `apiKey` is put in sessionStorage before the app loads.
 */
export async function guardedPage(
  browser: Browser,
  origin: string,
  options: { apiKey?: string; expected?: RegExp[]; viewport?: { width: number; height: number } } = {},
): Promise<GuardedPage> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1400, height: 1000 } });
  if (options.apiKey) await context.addInitScript((key) => sessionStorage.setItem("tunekit.apiKey", key), options.apiKey);
  const errors: string[] = [];
  const foreignRequests: string[] = [];
  await context.route(
    (url) => url.origin !== origin,
    (route) => {
      foreignRequests.push(route.request().url());
      return route.abort();
    },
  );
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    page,
    context,
    foreignRequests,
    unexpectedErrors: () => errors.filter((error) => !(options.expected ?? []).some((pattern) => pattern.test(error))),
    async screenshot(name: string) {
      const path = join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close: () => context.close(),
  };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** axe-core's serious and critical violations on the page as it is now (injected over CDP: the page's CSP stays strict). */
export async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run(context: Document, options: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> }> };
      }
    ).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.slice(0, 5).map((node) => node.target.join(" ")),
    }));
  });
  return violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical");
}
