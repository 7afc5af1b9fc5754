import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapMean } from "../src/eval/bootstrap.js";
import { recommend } from "../src/eval/recommend.js";
import { renderMarkdown } from "../src/eval/report/render-report.js";
import { writeReport } from "../src/eval/report/write-report.js";
import type { EvalReport, StrategyResult } from "../src/eval/run-eval.js";
import type { StrategyName } from "../src/eval/strategies.js";
import { seededRandom } from "../src/eval/seeded-random.js";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

/** A report of crafted strategies (the renderer's input; the e2e test covers real runs). */
function craftedReport(): EvalReport {
  const random = seededRandom(5);
  const strategy = (name: StrategyName, quality: number, promptTokens: number, per1000: number): StrategyResult => {
    const examples = Array.from({ length: 30 }, (_, index) => {
      const score = random() < quality ? 1 : random() * 0.5;
      return {
        line: index + 1,
        input: `Title: Dish ${index} <script>alert(1)</script>\n\nIngredients:\n1 c. sugar`,
        reference: '["sugar"]',
        answer: score === 1 ? '["sugar"]' : `"sugar" & <b>friends</b> ${index}`,
        scores: { "json-fields": score, "rouge-l": Math.min(1, score + 0.1) } as Record<string, number>,
        promptTokens,
        completionTokens: 12,
        latencyMs: 100 + index * 3,
      };
    });
    const interval = (metric: string) =>
      bootstrapMean(
        examples.map((example) => example.scores[metric]!),
        { samples: 500, level: 0.95, seed: 1 },
      );
    return {
      strategy: name,
      description: name,
      model: name === "fine-tuned" ? "ft:smollm2:recipes:abc" : "smollm2",
      endpoint: "http://127.0.0.1:1/v1",
      selection: null,
      metrics: { "json-fields": interval("json-fields"), "rouge-l": interval("rouge-l") },
      tokens: { meanPrompt: promptTokens, meanCompletion: 12, source: "crafted" },
      latency: { p50Ms: 140, p95Ms: 180, meanMs: 143 },
      wallSeconds: 4.3,
      requestsPerSecond: 7,
      cost: { hosting: "local", per1000Requests: per1000, basis: "crafted" },
      examples,
    };
  };
  const strategies = [strategy("zero-shot", 0.1, 80, 0.02), strategy("few-shot", 0.5, 420, 0.08), strategy("rag", 0.45, 600, 0.1), strategy("fine-tuned", 0.9, 80, 0.02)];
  const recommendation = recommend({
    metric: "json-fields",
    useCase: "Extract ingredients.",
    testExamples: 30,
    strategies: strategies.map((result) => ({
      strategy: result.strategy,
      score: result.metrics["json-fields"]!,
      per1000Requests: result.cost.per1000Requests,
      meanPromptTokens: result.tokens.meanPrompt,
      latencyP50Ms: result.latency.p50Ms,
    })),
    fineTuning: { cost: 0.5, basis: "crafted" },
    currency: "USD",
    tolerance: 0.02,
    expectedRequests: 100_000,
  });
  return {
    version: 1,
    kind: "eval",
    createdAt: "2026-01-01T00:00:00.000Z",
    config: null,
    task: { useCase: "Extract ingredients.", testFile: "test.jsonl", testExamples: 30, trainFile: "train.jsonl", trainExamples: 100 },
    metrics: [
      { name: "json-fields", description: "per-field", primary: true },
      { name: "rouge-l", description: "rouge", primary: false },
    ],
    settings: { seed: 1, temperature: 0, maxTokens: 64, bootstrapSamples: 500, confidence: 0.95, tolerance: 0.02, expectedRequests: 100_000, concurrency: 1 },
    currency: "USD",
    strategies,
    fineTuning: { cost: 0.5, basis: "crafted", trainingTokens: 1000, trainingSeconds: 1800 },
    recommendation,
  };
}

interface PageCheck {
  consoleErrors: string[];
  pageErrors: string[];
  requests: string[];
  svgCount: number;
  verdict: string;
}

async function openOffline(browser: Browser, file: string): Promise<PageCheck> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const url = pathToFileURL(file).href;
  const check: PageCheck = { consoleErrors: [], pageErrors: [], requests: [], svgCount: 0, verdict: "" };
  page.on("console", (message) => {
    if (message.type() === "error") check.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => check.pageErrors.push(error.message));
  // every request other than the page itself is a network request the report must not make
  await context.route("**/*", (route) => {
    const requested = route.request().url();
    if (requested !== url) check.requests.push(requested);
    return requested === url ? route.continue() : route.abort();
  });
  await page.goto(url, { waitUntil: "load" });
  await page.waitForTimeout(200);
  check.svgCount = await page.locator("svg").count();
  check.verdict = (await page.locator(".verdict").textContent()) ?? "";
  await context.close();
  return check;
}

describe("HTML report in headless chromium", () => {
  let browser: Browser;
  let dir: string;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium with \`make chromium\``);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    dir = await mkdtemp(path.join(tmpdir(), "tunekit-report-"));
  });
  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("renders three charts without console errors and without network requests", async () => {
    const report = craftedReport();
    const files = await writeReport(report, dir);
    const check = await openOffline(browser, files.html);
    expect(check.consoleErrors).toEqual([]);
    expect(check.pageErrors).toEqual([]);
    expect(check.requests).toEqual([]);
    expect(check.svgCount).toBe(3);
    expect(check.verdict).toMatch(/^Fine-tune: the fine-tuned model beats the best baseline/);
    const html = await readFile(files.html, "utf8");
    // example text is escaped, never markup
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(JSON.parse(await readFile(files.json, "utf8"))).toMatchObject({ version: 1, recommendation: { verdict: "fine-tune" } });
    expect(await readFile(files.markdown, "utf8")).toBe(renderMarkdown(report));
  });

  it("the check catches a page that fetches something or logs an error", async () => {
    const bad = path.join(dir, "bad.html");
    await writeFile(
      bad,
      '<!doctype html><html><body><img src="http://example.invalid/x.png"><script>console.error("boom")</script><svg></svg><p class="verdict">x</p></body></html>',
    );
    const check = await openOffline(browser, bad);
    expect(check.requests).toEqual(["http://example.invalid/x.png"]);
    expect(check.consoleErrors).toContain("boom");
  });
});
