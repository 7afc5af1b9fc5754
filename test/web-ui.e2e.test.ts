/**
 * The web UI in Debian's chromium against a real `tunekit server` and the real Python worker, with a
 * tiny random Llama: the no-code path from a data file to a fine-tuned model, as a user clicks it.
 * Every test fails on a console error it did not provoke on purpose, on a request to any origin but
 * the server, and on a serious or critical axe-core violation of each screen it visits. Screenshots
 * land in test-output/web/.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { startServer, type RunningServer, type ServerOptions } from "../src/server/tunekit-server.js";
import { guardedPage, haveChromium, launchChromium, seriousAccessibilityViolations, type GuardedPage } from "./helpers/browser.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

const haveUi = existsSync(join("dist", "web", "index.html"));

const THINGS = ["apple", "sky", "grass", "banana", "coal", "snow", "plum", "carrot", "lemon", "cherry", "night", "cloud"];
const chat = (thing: string, color: string) =>
  JSON.stringify({
    messages: [
      { role: "user", content: `What color is the ${thing}?` },
      { role: "assistant", content: `The ${thing} is ${color}.` },
    ],
  });
/** 12 good lines, one broken JSON line (column 15), one exact duplicate, one line without an answer */
const BAD_FILE =
  [...THINGS.map((thing) => chat(thing, "red")), '{"messages": [}', chat("apple", "red"), JSON.stringify({ messages: [{ role: "user", content: "Hi" }] })].join("\n") + "\n";
const VALIDATION_FILE =
  THINGS.slice(0, 10)
    .map((thing) => chat(`big ${thing}`, "red"))
    .join("\n") + "\n";
const CSV_FILE = ["question,answer,category", ...THINGS.map((thing) => `"What color is the ${thing}?","The ${thing} is red, mostly.",fruit`)].join("\r\n") + "\r\n";

let workDir: string;
let server: RunningServer;
let options: ServerOptions;
let browser: Browser;
let apiKey: string;
let origin: string;
const open: GuardedPage[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`${origin}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${apiKey}`, ...(init.body ? { "content-type": "application/json" } : {}), ...init.headers },
  });
  const body = (await response.json()) as T;
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

async function uploadThroughApi(name: string, content: string): Promise<string> {
  const form = new FormData();
  form.append("purpose", "fine-tune");
  form.append("file", new Blob([content]), name);
  const response = await fetch(`${origin}/v1/files`, { method: "POST", body: form, headers: { authorization: `Bearer ${apiKey}` } });
  return ((await response.json()) as { id: string }).id;
}

/** A page with the key in sessionStorage; `expected` lists console errors the test provokes. */
async function openPage(path: string, expected: RegExp[] = []): Promise<GuardedPage> {
  const guarded = await guardedPage(browser, origin, { apiKey, expected });
  open.push(guarded);
  await guarded.page.goto(`${origin}${path}`);
  return guarded;
}

/** Every screen a test visits is checked with axe-core and photographed. */
async function checkScreen(guarded: GuardedPage, name: string): Promise<void> {
  await guarded.screenshot(name);
  const violations = await seriousAccessibilityViolations(guarded.page);
  expect(violations, `axe on ${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
}

async function waitForJob(jobId: string, statuses: string[], timeoutMs = 120_000): Promise<{ status: string; fine_tuned_model: string | null }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await api<{ status: string; fine_tuned_model: string | null }>(`/v1/fine_tuning/jobs/${jobId}`);
    if (statuses.includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} is ${job.status}, not ${statuses.join("/")}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

async function chartPoints(page: Page): Promise<number> {
  return Number(await page.locator("figure.chart").first().getAttribute("data-points"));
}

async function logLines(page: Page, panel: string): Promise<number> {
  const text = (await page.locator(`section[aria-labelledby="${panel}-title"] .log-toolbar .muted`).textContent()) ?? "";
  return Number(/of ([\d,]+) lines/.exec(text)?.[1]?.replace(/,/g, "") ?? 0);
}

const ready = haveWorker && haveChromium && haveUi;

/** After each test: close its pages; none may have logged an error it did not expect or asked another origin for anything. */
async function closePagesAndCheckThem(): Promise<void> {
  for (const guarded of open.splice(0)) {
    const errors = guarded.unexpectedErrors();
    const foreign = [...guarded.foreignRequests];
    await guarded.close();
    expect(errors, `console and page errors: ${errors.join(" | ")}`).toEqual([]);
    expect(foreign, "requests to other origins").toEqual([]);
  }
}

beforeAll(async () => {
  if (ready) browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe.skipIf(!ready)("the web UI in chromium against a real server and worker", () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-web-"));
    buildTinyLlama(join(workDir, "tiny-llama"));
    options = {
      port: await freePort(),
      dataDir: join(workDir, "data"),
      models: [join(workDir, "tiny-llama")],
      backend: new LocalExecutionBackend({ python, workerRoot }),
      trainingDefaults: { device: "cpu", threads: 1, eval_every: 20, checkpoint_every: 100 },
      maxSeqLen: 64,
      maxUploadMb: 4,
      serve: { threads: 1 },
    };
    server = await startServer(options);
    origin = server.url;
    apiKey = (await server.services.keys.createKey("web-ui")).key;
  });

  afterEach(closePagesAndCheckThem);

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  let badFileId: string;
  let fixedFileId: string;
  let validationFileId: string;
  let jobId: string;

  it("data: uploads a bad file and shows its problems by line, with the JSON error column marked", async () => {
    const guarded = await openPage("/data");
    const { page } = guarded;
    await page.locator("#file-input").setInputFiles({ name: "colors.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(BAD_FILE) });
    await page.waitForURL(/\/data\/file-/);
    badFileId = page.url().split("/").pop() as string;
    await expect.poll(() => page.getByTestId("detected-format").textContent()).toBe("chat");
    await expect.poll(() => page.getByRole("button", { name: "Use for training" }).isDisabled()).toBe(true);
    // counts per code, each a filter
    await page.getByRole("button", { name: /^invalid_json 1$/ }).click();
    await page.getByRole("button", { name: /^error, line 13 invalid_json the line is not valid JSON/ }).click();
    const detail = page.getByTestId("problem-detail");
    await expect.poll(() => detail.textContent()).toMatch(/line 13, column 15/);
    expect(await detail.textContent()).toMatch(/Fix:.*double quotes/);
    const current = page.locator(".lines .line.current");
    await expect.poll(() => current.getAttribute("data-line")).toBe("13");
    expect(await current.locator("mark.error-column").textContent()).toBe("}");
    await page.getByRole("button", { name: /^all/ }).click();
    await expect.poll(() => page.locator(".problem-row").count()).toBeGreaterThanOrEqual(4);
    await checkScreen(guarded, "1-data-bad-file");
  });

  it("data: fixes the file into a new one and keeps the original", async () => {
    const guarded = await openPage(`/data/${badFileId}`);
    const { page } = guarded;
    const before = await api<{ bytes: number }>(`/v1/files/${badFileId}`);
    await page.getByLabel(/Drop invalid and blank lines/).check();
    await page.getByLabel(/Drop exact duplicates/).check();
    await page.getByRole("button", { name: "Write fixed copy" }).click();
    await page.waitForURL((url) => url.pathname.startsWith("/data/file-") && !url.pathname.endsWith(badFileId));
    fixedFileId = page.url().split("/").pop() as string;
    await expect.poll(() => page.getByRole("button", { name: "Use for training" }).isEnabled()).toBe(true);
    expect(await page.getByText("Wrote colors.fixed.jsonl: kept 12 lines, removed 2 invalid, 1 duplicate. The original is unchanged.").count()).toBe(1);
    const fixed = await api<{ status: string; filename: string }>(`/v1/files/${fixedFileId}`);
    expect(fixed).toMatchObject({ status: "processed", filename: "colors.fixed.jsonl" });
    expect(await api<{ bytes: number; status: string }>(`/v1/files/${badFileId}`)).toMatchObject({ bytes: before.bytes, status: "error" });
    // token statistics with the tiny model's own tokenizer
    await expect.poll(() => page.locator("svg.histogram").count(), { timeout: 30_000 }).toBe(1);
    await checkScreen(guarded, "2-data-fixed-file");
  });

  it("data: maps a CSV's real columns to chat messages with a live preview, and converts it", async () => {
    const guarded = await openPage("/data");
    const { page } = guarded;
    await page.locator("#file-input").setInputFiles({ name: "support.csv", mimeType: "text/csv", buffer: Buffer.from(CSV_FILE) });
    await page.waitForURL(/\/data\/file-/);
    await expect.poll(() => page.getByTestId("detected-format").textContent()).toBe("CSV table");
    // roles are picked from the file's own columns, suggested from their names
    await expect.poll(() => page.getByLabel("Role of column question").inputValue()).toBe("user");
    expect(await page.getByLabel("Role of column answer").inputValue()).toBe("assistant");
    expect(await page.getByLabel("Role of column category").inputValue()).toBe("ignore");
    await page.getByLabel(/System prompt/).fill("You name colors.");
    await expect.poll(() => page.locator(".preview-example").count()).toBe(5);
    await expect.poll(() => page.locator(".preview-example").first().locator(".bubble-system").textContent()).toContain("You name colors.");
    expect(await page.locator(".preview-example").first().locator(".bubble-assistant").textContent()).toContain("The apple is red, mostly.");
    await checkScreen(guarded, "3-data-csv-mapping");
    const tablePath = new URL(page.url()).pathname;
    await page.getByRole("button", { name: "Convert to chat JSONL" }).click();
    await page.waitForURL((url) => url.pathname.startsWith("/data/file-") && url.pathname !== tablePath);
    expect(await page.getByText(/Wrote support.chat.jsonl: 12 chat examples/).count()).toBe(1);
    await expect.poll(() => page.getByTestId("detected-format").textContent()).toBe("chat");
    await expect.poll(() => page.getByRole("button", { name: "Use for training" }).isEnabled()).toBe(true);
  });

  it("new job: the form from the config schema stays in sync with the YAML, estimates, and starts the job", async () => {
    validationFileId = await uploadThroughApi("colors.validation.jsonl", VALIDATION_FILE);
    const guarded = await openPage(`/jobs/new?training_file=${fixedFileId}`);
    const { page } = guarded;
    const yaml = page.getByLabel("Job config as YAML");
    await expect.poll(() => yaml.inputValue()).toContain(`train: ${fixedFileId}`);
    await page.getByLabel("Validation file").selectOption(validationFileId);
    // a file with errors cannot be picked
    expect(await page.locator(`#field-data-train option[value="${badFileId}"]`).isDisabled()).toBe(true);
    // switching the method records it (a server's own default could be another method)
    await page.getByRole("radio", { name: /^full/ }).check();
    await expect.poll(() => yaml.inputValue()).toMatch(/method: full/);
    await page.getByRole("radio", { name: /^lora/ }).check();
    await page.getByLabel("Suffix").fill("colors");
    await page.locator("summary", { hasText: "Advanced" }).click();
    await page.locator("#field-training-max_steps").fill("600");
    await page.locator("#field-training-lora-r").fill("4");
    await expect.poll(() => yaml.inputValue()).toMatch(/max_steps: 600/);
    expect(await yaml.inputValue()).toMatch(/lora:\n\s+r: 4/);
    // the YAML view is edited: the form follows
    await yaml.fill((await yaml.inputValue()).replace("r: 4", "r: 8"));
    await expect.poll(() => page.locator("#field-training-lora-r").inputValue()).toBe("8");
    // a bad value is named by its field, from the server's check with the zod schema
    await page.locator("#field-training-warmup_ratio").fill("0.9");
    await expect.poll(() => page.locator(".field-error #field-training-warmup_ratio").count()).toBe(1);
    expect(await page.locator("#field-training-warmup_ratio-error").textContent()).toMatch(/training\.warmup_ratio/);
    expect(await page.getByRole("button", { name: "Start" }).isDisabled()).toBe(true);
    await page.locator("#field-training-warmup_ratio").fill("");
    // the estimate before Start: steps from the worker's plan, memory
    const estimate = page.getByTestId("estimate");
    await expect.poll(() => estimate.textContent(), { timeout: 60_000 }).toMatch(/Steps600 /);
    expect(await estimate.textContent()).toMatch(/Fits in this machine's memory/);
    // copy as: the same job as commands
    expect(await page.getByTestId("command-cli").textContent()).toMatch(/tunekit jobs create[\s\S]*--set training.max_steps=600/);
    await page.getByRole("button", { name: "openai (Python)" }).click();
    expect(await page.getByTestId("command-python").textContent()).toMatch(/extra_body=\{"tunekit"/);
    await checkScreen(guarded, "4-new-job");
    await page.getByRole("button", { name: "Start" }).click();
    await page.waitForURL(/\/jobs\/ftjob-/);
    jobId = page.url().split("/").pop() as string;
    const detail = await api<{ options: { training: Record<string, unknown> }; job: { user_provided_suffix: string; validation_file: string } }>(`/v1/tunekit/jobs/${jobId}`);
    expect(detail.options.training).toEqual({ method: "lora", max_steps: 600, lora: { r: 8 } });
    expect(detail.job).toMatchObject({ user_provided_suffix: "colors", validation_file: validationFileId });
  });

  it("job detail: the charts gain points and the log grows while it trains; pause, resume, and it succeeds", async () => {
    const guarded = await openPage(`/jobs/${jobId}`);
    const { page } = guarded;
    await expect.poll(() => chartPoints(page), { timeout: 60_000 }).toBeGreaterThan(0);
    const firstPoints = await chartPoints(page);
    await expect.poll(() => chartPoints(page), { timeout: 30_000 }).toBeGreaterThan(firstPoints);
    await expect.poll(() => logLines(page, "events"), { timeout: 30_000 }).toBeGreaterThan(3);
    // the worker log is its own stream and can trail the metrics by a poll under load: waited for, not read once
    await expect.poll(() => logLines(page, "worker-log"), { timeout: 30_000 }).toBeGreaterThan(0);
    await checkScreen(guarded, "5-job-running");
    await page.getByRole("button", { name: "Pause" }).click();
    await waitForJob(jobId, ["paused"]);
    await expect.poll(() => page.locator("h1 .badge").textContent()).toBe("paused");
    const pausedPoints = await chartPoints(page);
    await page.getByRole("button", { name: "Resume" }).click();
    await waitForJob(jobId, ["succeeded"], 180_000);
    await expect.poll(() => page.locator("h1 .badge").textContent(), { timeout: 10_000 }).toBe("succeeded");
    await expect.poll(() => chartPoints(page)).toBeGreaterThan(pausedPoints);
    // what the page shows is what the server has: every metrics step once
    const steps = await api<{ data: Array<{ type: string; data: { step?: number; train_loss?: number } | null }> }>(`/v1/fine_tuning/jobs/${jobId}/events?limit=100`);
    expect(steps.data.length).toBeGreaterThan(0);
    await expect.poll(() => chartPoints(page)).toBe(600);
    await expect.poll(() => page.locator("#checkpoints-title").count()).toBe(1);
    expect(await page.locator("section[aria-labelledby='checkpoints-title'] tbody tr").count()).toBeGreaterThan(5);
    expect(await page.getByText(/Fine-tuned model: ft:tiny-llama:colors:/).count()).toBe(1);
    // the events are searchable and filterable by level
    const allEvents = await logLines(page, "events");
    await page.locator("#events-search").fill("checkpoint");
    await expect
      .poll(async () => /^([\d,]+) of/.exec((await page.locator(`section[aria-labelledby="events-title"] .log-toolbar .muted`).textContent()) ?? "")?.[1])
      .not.toBe(String(allEvents));
    expect(await page.locator(`section[aria-labelledby="events-title"] .log-line`).first().textContent()).toMatch(/checkpoint/i);
    await page.locator("#events-search").fill("");
    await checkScreen(guarded, "6-job-succeeded");
    // Duplicate: the form starts from this job's settings
    await page.getByRole("link", { name: "Duplicate" }).click();
    await page.waitForURL(/\/jobs\/new\?from=/);
    const yaml = page.getByLabel("Job config as YAML");
    await expect.poll(() => yaml.inputValue()).toMatch(/suffix: colors/);
    expect(await yaml.inputValue()).toMatch(/max_steps: 600/);
    expect(await yaml.inputValue()).toMatch(/r: 8/);
    expect(await page.locator("#field-training-lora-r").inputValue()).toBe("8");
  });

  it("playground: the fine-tuned model and the base side by side, both streaming, with the template's prompt", async () => {
    // the job of the test before: waited for here too, so a failure there is not reported twice
    const job = await waitForJob(jobId, ["succeeded"], 240_000);
    const guarded = await openPage(`/jobs/${jobId}`);
    const { page } = guarded;
    await page.getByRole("link", { name: "Open in playground" }).click();
    await page.waitForURL(/\/playground/);
    await expect.poll(() => page.getByLabel("Model 1").inputValue()).toBe("tiny-llama");
    expect(await page.getByLabel("Model 2").inputValue()).toBe(job.fine_tuned_model);
    // an example from the validation file, with its reference answer
    await page.getByLabel("Load an example from").selectOption(validationFileId);
    await page.getByRole("button", { name: "Load", exact: true }).click();
    await expect.poll(() => page.getByLabel("Message").inputValue()).toBe("What color is the big apple?");
    expect(await page.getByRole("region", { name: "Reference answer" }).textContent()).toContain("The big apple is red.");
    await page.getByLabel("Max tokens").fill("12");
    await page.getByRole("button", { name: "Send to all" }).click();
    for (const pane of [0, 1]) {
      await expect
        .poll(() => page.getByTestId(`pane-stats-${pane}`).textContent(), { timeout: 120_000 })
        .toMatch(/total \d+ ms · [\d.]+ tokens\/s · \d+ prompt \+ \d+ completion tokens/);
      expect(((await page.getByTestId(`pane-text-${pane}`).textContent()) ?? "").length).toBeGreaterThan(0);
    }
    await page.locator("[data-pane='1']").getByRole("button", { name: "Show prompt" }).click();
    await expect.poll(() => page.getByLabel("Prompt of pane 2").textContent()).toContain("What color is the big apple?");
    await checkScreen(guarded, "7-playground");
  });

  it("jobs: lists every job with its place in the queue, and cancels another job from its row", async () => {
    const other = await api<{ id: string }>("/v1/fine_tuning/jobs", {
      method: "POST",
      body: JSON.stringify({ model: "tiny-llama", training_file: fixedFileId, suffix: "other", tunekit: { training: { max_steps: 5000 } } }),
    });
    await waitForJob(other.id, ["running"]);
    // one training slot: a third job waits first in the queue
    const waiting = await api<{ id: string }>("/v1/fine_tuning/jobs", {
      method: "POST",
      body: JSON.stringify({ model: "tiny-llama", training_file: fixedFileId, suffix: "waiting" }),
    });
    await waitForJob(waiting.id, ["queued"]);
    const guarded = await openPage("/jobs");
    const { page } = guarded;
    const row = page.locator(`tr[data-job="${other.id}"]`);
    await expect.poll(() => row.count()).toBe(1);
    await expect.poll(() => page.locator(`tr[data-job="${waiting.id}"] td`).nth(8).textContent()).toBe("1");
    expect(await page.locator(`tr[data-job="${jobId}"] .model-id .mono`).textContent()).toMatch(/^ft:tiny-llama:colors:/);
    await checkScreen(guarded, "8-jobs");
    await page
      .locator(`tr[data-job="${waiting.id}"]`)
      .getByRole("button", { name: `Cancel ${waiting.id}` })
      .click();
    await waitForJob(waiting.id, ["cancelled"]);
    await row.getByRole("button", { name: `Cancel ${other.id}` }).click();
    await waitForJob(other.id, ["cancelled"]);
    await expect.poll(() => row.locator(".badge").textContent()).toBe("cancelled");
    await page.getByLabel("Status").selectOption("succeeded");
    await expect.poll(() => page.locator("tbody tr").count()).toBe(1);
  });

  describe("bad input: a clear sentence in the page and nothing lost on the server", () => {
    const filesOnServer = async () => (await api<{ data: Array<{ id: string }> }>("/v1/files")).data.map((file) => file.id).sort();

    it("a 0-byte file and an over-limit file are refused before anything is sent; a binary file is named as binary", async () => {
      const guarded = await openPage("/data");
      const { page } = guarded;
      const before = await filesOnServer();
      await page.locator("#file-input").setInputFiles({ name: "empty.jsonl", mimeType: "application/jsonl", buffer: Buffer.alloc(0) });
      await expect.poll(() => page.getByRole("alert").textContent()).toContain("`empty.jsonl` is empty (0 bytes)");
      await page.locator("#file-input").setInputFiles({ name: "huge.jsonl", mimeType: "application/jsonl", buffer: Buffer.alloc(5 << 20, 0x7b) });
      await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/`huge.jsonl` is 5.0 MB; this server accepts files up to 4.0 MB/);
      expect(await filesOnServer()).toEqual(before);
      // dropped on the drop zone this time
      const dropped = await page.evaluateHandle(() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array([0x7b, 0x00, 0x01, 0x02, 0xff, 0x00])], "model.jsonl", { type: "application/octet-stream" }));
        return transfer;
      });
      await page.locator(".dropzone").dispatchEvent("drop", { dataTransfer: dropped });
      await page.waitForURL(/\/data\/file-/);
      await expect.poll(() => page.getByRole("alert").first().textContent()).toMatch(/binary data \(a NUL byte at offset 1\), not text/);
      await checkScreen(guarded, "9-data-binary-file");
    });

    it("the server's own 413 (its limit went down while the page was open) is said as a sentence", async () => {
      // the server restarts under the open page: a refresh that lands in between is refused or reset
      const guarded = await openPage("/data", [/status of 413/, /ERR_CONNECTION_(RESET|REFUSED)/]);
      const { page } = guarded;
      await expect.poll(() => page.getByText(/Up to 4.0 MB/).count()).toBe(1);
      await server.close();
      server = await startServer({ ...options, maxUploadMb: 1 });
      try {
        const before = await filesOnServer();
        await page
          .locator("#file-input")
          .setInputFiles({ name: "big.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(`${chat("apple", "red")}\n`.repeat(60_000).slice(0, 2 << 20)) });
        await expect
          .poll(() => page.getByRole("alert").textContent(), { timeout: 20_000 })
          .toMatch(
            /The file is larger than this server accepts\. The upload is larger than the server's limit of 1 MiB\. Split it, or restart the server with a larger `--max-upload-mb`\./,
          );
        expect(await filesOnServer()).toEqual(before);
      } finally {
        await server.close();
        server = await startServer(options);
      }
    });

    it("a connection lost mid-upload says nothing was stored, and the server keeps no partial file", async () => {
      const guarded = await openPage("/data", [/Failed to load resource/, /ERR_/]);
      const { page } = guarded;
      await expect.poll(() => page.getByText(/Up to 4.0 MB/).count()).toBe(1);
      const before = await filesOnServer();
      const cdp = await guarded.context.newCDPSession(page);
      await cdp.send("Network.enable");
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
      await page
        .locator("#file-input")
        .setInputFiles({ name: "slow.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(`${chat("apple", "red")}\n`.repeat(40_000).slice(0, 3 << 20)) });
      await expect.poll(() => page.getByRole("progressbar", { name: "Uploading slow.jsonl" }).count()).toBe(1);
      await expect.poll(async () => Number(await page.getByRole("progressbar").getAttribute("aria-valuenow")), { timeout: 20_000 }).toBeGreaterThan(5);
      // the server goes down mid-upload (a retry of the request finds nobody listening)
      const closing = server.close();
      server.app.server.closeAllConnections();
      await closing;
      await expect
        .poll(() => page.getByRole("alert").textContent(), { timeout: 20_000 })
        .toMatch(/connection to the server was lost while uploading `slow.jsonl`; nothing was stored/);
      server = await startServer(options);
      expect(await filesOnServer()).toEqual(before);
      const leftovers = readdirSync(join(options.dataDir as string, "files")).filter((name) => name.endsWith(".part") || name.startsWith("scratch-"));
      expect(leftovers).toEqual([]);
      await guarded.screenshot("10-data-upload-lost");
    });

    it("two tabs on one job: a pause in one shows in the other, and the other's stale action is refused with a sentence", async () => {
      const job = await api<{ id: string }>("/v1/fine_tuning/jobs", {
        method: "POST",
        body: JSON.stringify({ model: "tiny-llama", training_file: fixedFileId, suffix: "tabs", tunekit: { training: { max_steps: 100000 } } }),
      });
      await waitForJob(job.id, ["running"]);
      const first = await openPage(`/jobs/${job.id}`, [/status of 409/]);
      const second = await openPage(`/jobs/${job.id}`, [/status of 409/]);
      await expect.poll(() => first.page.getByRole("button", { name: "Pause" }).count()).toBe(1);
      await expect.poll(() => second.page.getByRole("button", { name: "Pause" }).count()).toBe(1);
      // both tabs press Pause at once: the server's state machine takes one, refuses the other (409)
      await Promise.all([first.page.getByRole("button", { name: "Pause" }).click(), second.page.getByRole("button", { name: "Pause" }).click()]);
      await waitForJob(job.id, ["paused"]);
      await expect.poll(() => second.page.locator("h1 .badge").textContent()).toBe("paused");
      await expect.poll(() => first.page.locator("h1 .badge").textContent()).toBe("paused");
      const refusals = async () =>
        [...(await first.page.getByRole("alert").allTextContents()), ...(await second.page.getByRole("alert").allTextContents())].filter((text) =>
          /Pause did not apply: .*another tab/.test(text),
        );
      await expect.poll(async () => (await refusals()).length).toBe(1);
      await first.page.getByRole("button", { name: "Cancel" }).click();
      await waitForJob(job.id, ["cancelled"]);
      await expect.poll(() => second.page.locator("h1 .badge").textContent()).toBe("cancelled");
    });

    it("a server restart while the page is open: it reconnects and carries on, each event shown once", async () => {
      const job = await api<{ id: string }>("/v1/fine_tuning/jobs", {
        method: "POST",
        body: JSON.stringify({ model: "tiny-llama", training_file: fixedFileId, suffix: "restart", tunekit: { training: { max_steps: 500, checkpoint_every: 50 } } }),
      });
      await waitForJob(job.id, ["running"]);
      const guarded = await openPage(`/jobs/${job.id}`, [
        /Failed to load resource/,
        /ERR_CONNECTION_REFUSED/,
        /ERR_INCOMPLETE_CHUNKED_ENCODING/,
        /ERR_EMPTY_RESPONSE/,
        /network error/i,
      ]);
      const { page } = guarded;
      await expect.poll(() => chartPoints(page), { timeout: 60_000 }).toBeGreaterThan(60);
      await server.close();
      await expect.poll(() => page.getByText(/Lost the connection to the server; reconnecting|cannot be reached/).count(), { timeout: 20_000 }).toBeGreaterThan(0);
      await guarded.screenshot("11-job-server-restarting");
      server = await startServer(options);
      await waitForJob(job.id, ["succeeded"], 180_000);
      await expect.poll(() => page.locator("h1 .badge").textContent(), { timeout: 30_000 }).toBe("succeeded");
      const events: string[] = [];
      let after: string | null = null;
      for (;;) {
        const batch: { data: Array<{ id: string; type: string }>; has_more: boolean } = await api(
          `/v1/fine_tuning/jobs/${job.id}/events?limit=100&order=asc${after ? `&after=${after}` : ""}`,
        );
        events.push(...batch.data.filter((event) => event.type !== "metrics").map((event) => event.id));
        if (!batch.has_more) break;
        after = batch.data.at(-1)?.id ?? null;
      }
      await expect.poll(() => logLines(page, "events"), { timeout: 10_000 }).toBe(events.length);
      await expect.poll(() => chartPoints(page)).toBe(500);
    });

    it("a revoked key gets a clear message and the key form; a wrong key is refused; a good key carries on", async () => {
      const { key, record } = await server.services.keys.createKey("web-ui", "short-lived");
      const guarded = await guardedPage(browser, origin, { apiKey: key, expected: [/status of 401/] });
      open.push(guarded);
      const { page } = guarded;
      await page.goto(`${origin}/jobs`);
      await expect.poll(() => page.getByRole("heading", { name: "Jobs" }).count()).toBe(1);
      await server.services.keys.revokeKey(record.id);
      await page.getByRole("link", { name: "Data" }).click();
      await expect.poll(() => page.getByText(/The API key was refused: it is wrong, or it was revoked/).count(), { timeout: 10_000 }).toBe(1);
      await checkScreen(guarded, "12-key-revoked");
      await page.getByLabel("API key").fill("tk-not-a-key");
      await page.getByRole("button", { name: "Use this key" }).click();
      await expect.poll(() => page.getByText(/The API key was refused/).count()).toBe(1);
      await page.getByLabel("API key").fill(apiKey);
      await page.getByRole("button", { name: "Use this key" }).click();
      await expect.poll(() => page.getByRole("heading", { name: "Data" }).count()).toBe(1);
      // the key lives in sessionStorage only: no cookie
      expect(await guarded.context.cookies()).toEqual([]);
    });
  });
});

describe.skipIf(!ready)("hosted fine-tuning through the web UI, with a second Tunekit server as the provider", () => {
  let upstream: RunningServer;
  let front: RunningServer;
  let hostedDir: string;

  beforeAll(async () => {
    hostedDir = mkdtempSync(join(tmpdir(), "tunekit-web-hosted-"));
    buildTinyLlama(join(hostedDir, "tiny-llama"));
    // the provider: a Tunekit server that trains (on loopback, like api.openai.com would)
    upstream = await startServer({
      port: 0,
      dataDir: join(hostedDir, "provider"),
      models: [join(hostedDir, "tiny-llama")],
      backend: new LocalExecutionBackend({ python, workerRoot }),
      trainingDefaults: { device: "cpu", threads: 1, max_steps: 60, eval_every: 10, checkpoint_every: 20 },
      maxSeqLen: 64,
      serve: { threads: 1 },
      webRoot: null,
    });
    const providerKey = (await upstream.services.keys.createKey("tunekit-front")).key;
    const { configSchema } = await import("../src/core/config-schema.js");
    const { createHostedProvider } = await import("../src/providers/hosted-provider.js");
    const config = configSchema.parse({ openai: { base_url: `${upstream.url}/v1` } });
    // the server the user's browser talks to: it trains nothing itself here, it drives the provider
    front = await startServer({
      port: 0,
      dataDir: join(hostedDir, "front"),
      models: ["local-only"],
      maxConcurrentJobs: 0,
      hosted: [createHostedProvider("openai", config, { OPENAI_API_KEY: providerKey }, ["tiny-llama"])],
    });
    origin = front.url;
    apiKey = (await front.services.keys.createKey("team")).key;
  });

  afterEach(closePagesAndCheckThem);

  afterAll(async () => {
    await front?.close();
    await upstream?.close();
    if (hostedDir) rmSync(hostedDir, { recursive: true, force: true });
  });

  it("a job on the provider from the form, watched live, listed, isolated per project, and its model in the playground", async () => {
    const fileId = await uploadThroughApi("colors.jsonl", THINGS.map((thing) => chat(thing, "red")).join("\n") + "\n");
    const guarded = await openPage(`/jobs/new?training_file=${fileId}`);
    const { page } = guarded;
    await page.locator("#field-model").selectOption("openai:tiny-llama");
    const yaml = page.getByLabel("Job config as YAML");
    await expect.poll(() => yaml.inputValue()).toMatch(/provider: openai/);
    await page.getByLabel("Suffix").fill("hosted");
    await expect.poll(() => page.getByTestId("estimate").textContent(), { timeout: 30_000 }).toMatch(/Epochs.*Examples12/);
    expect(await page.getByTestId("command-cli").textContent()).toMatch(/tunekit jobs create[\s\S]*--hosted openai/);
    await checkScreen(guarded, "13-new-hosted-job");
    await page.getByRole("button", { name: "Start" }).click();
    await page.waitForURL(/\/jobs\/hosted\/openai\/ftjob-/);
    const jobId = page.url().split("/").pop() as string;
    await expect.poll(() => page.locator("h1 .badge").textContent(), { timeout: 120_000 }).toBe("succeeded");
    await expect.poll(() => chartPoints(page), { timeout: 20_000 }).toBe(60);
    expect(await page.locator("section[aria-labelledby='checkpoints-title'] tbody tr").count()).toBeGreaterThan(2);
    expect(await page.getByText(/publishes no worker log/).count()).toBe(1);
    await checkScreen(guarded, "14-hosted-job");
    // the provider has the job, tagged with this server's project and file
    const remote = await upstream.services.jobs.list(await upstream.services.keys.ensureProject("tunekit-front"), { after: null, limit: 10, order: "desc" });
    expect(remote.data.find((job) => job.id === jobId)?.metadata).toMatchObject({ tunekit_project: expect.stringMatching(/^proj-/), tunekit_training_file: fileId });
    // another project of the same server does not see it
    const other = (await front.services.keys.createKey("other-team")).key;
    const peek = await fetch(`${origin}/v1/tunekit/hosted/openai/jobs/${jobId}`, { headers: { authorization: `Bearer ${other}` } });
    expect(peek.status).toBe(404);
    expect(((await (await fetch(`${origin}/v1/tunekit/hosted/openai/jobs`, { headers: { authorization: `Bearer ${other}` } })).json()) as { data: unknown[] }).data).toEqual([]);

    await page.getByRole("link", { name: "Jobs", exact: true }).click();
    await expect.poll(() => page.locator(`tr[data-hosted-job="${jobId}"] .badge`).textContent()).toBe("succeeded");
    await page.goto(`${origin}/jobs/hosted/openai/${jobId}`);
    await page.getByRole("link", { name: "Open in playground" }).click();
    await page.waitForURL(/\/playground/);
    await expect.poll(() => page.getByLabel("Model 1").inputValue()).toBe("openai:tiny-llama");
    expect(await page.getByLabel("Model 2").inputValue()).toMatch(/^openai:ft:tiny-llama:hosted:/);
    await page.getByLabel("Message").fill("What color is the apple?");
    await page.getByLabel("Max tokens").fill("8");
    await page.getByRole("button", { name: "Send to all" }).click();
    for (const pane of [0, 1]) await expect.poll(() => page.getByTestId(`pane-stats-${pane}`).textContent(), { timeout: 120_000 }).toMatch(/total \d+ ms · [\d.]+ tokens\/s/);
    await page.locator("[data-pane='1']").getByRole("button", { name: "Show prompt" }).click();
    await expect.poll(() => page.locator("[data-pane='1'] [role=alert]").textContent()).toMatch(/openai applies its chat template itself/);
    await checkScreen(guarded, "15-hosted-playground");
  });
});

describe.skipIf(!ready)("the web UI's serving", () => {
  it("serves the app at / with a strict CSP, caches hashed assets for good and index.html never, and falls back to the app for its routes", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "tunekit-web-serve-"));
    const own = await startServer({ port: 0, dataDir, models: ["tiny-base"], noAuth: true, maxConcurrentJobs: 0 });
    try {
      const index = await fetch(`${own.url}/`);
      expect(index.status).toBe(200);
      expect(index.headers.get("cache-control")).toBe("no-cache");
      expect(index.headers.get("content-security-policy")).toMatch(/^default-src 'self'/);
      const html = await index.text();
      const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string;
      const script = await fetch(`${own.url}${asset}`);
      expect(script.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(script.headers.get("content-type")).toMatch(/javascript/);
      expect((await script.arrayBuffer()).byteLength).toBe(statSync(join("dist", "web", asset.slice(1))).size);
      const route = await fetch(`${own.url}/jobs/ftjob-abc`, { headers: { accept: "text/html" } });
      expect(route.status).toBe(200);
      expect(await route.text()).toBe(html);
      // a missing asset and an unknown API path stay 404s with the error envelope
      const missing = await fetch(`${own.url}/assets/missing.js`);
      expect(missing.status).toBe(404);
      await missing.arrayBuffer();
      const unknown = await fetch(`${own.url}/v1/nothing`, { headers: { accept: "text/html" } });
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("unknown_url");
      // no inline script or style: everything the page runs comes from the server's own files
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/<style/);
    } finally {
      await own.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
