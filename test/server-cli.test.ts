import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectJsonOutput } from "./helpers/cli-json-contract.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";

/** `tunekit keys|files|jobs|server` through the real CLI (dist/cli/main.js, built by `make build`) against a real server. */
const root = fileURLToPath(new URL("..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "tunekit-server-cli-"));
const dataDir = join(scratch, "data");
let server: RunningServer;
let key: string;

// async (not spawnSync): the server under test runs in this process and must keep answering
function tunekit(args: string[], environment: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, "dist", "cli", "main.js"), ...args],
      { cwd: scratch, env: { ...process.env, TUNEKIT_API_KEY: "", TUNEKIT_SERVER: "", ...environment }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const lines = Array.from({ length: 12 }, (_, index) => JSON.stringify({ prompt: `Capital of country ${index}?`, completion: ` City ${index}` })).join("\n") + "\n";

beforeAll(async () => {
  const created = await tunekit(["keys", "create", "--project", "cli", "--data-dir", dataDir, "--json"]);
  expect(created.code, created.stderr).toBe(0);
  key = (JSON.parse(created.stdout) as { key: string }).key;
  server = await startServer({ port: 0, dataDir, models: ["tiny-base"], maxConcurrentJobs: 0 });
  writeFileSync(join(scratch, "train.jsonl"), lines);
});

afterAll(async () => {
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("tunekit files / jobs / keys", () => {
  it("uploads, creates a job, follows its events until cancel, and refuses a second cancel", async () => {
    const environment = { TUNEKIT_SERVER: server.url, TUNEKIT_API_KEY: key };
    const uploaded = await tunekit(["files", "upload", "train.jsonl", "--json"], environment);
    expect(uploaded.code, uploaded.stderr).toBe(0);
    const file = JSON.parse(uploaded.stdout) as { id: string; status: string };
    expect(file.status).toBe("processed");

    const created = await tunekit(["jobs", "create", "--model", "tiny-base", "--training-file", file.id, "--suffix", "capitals", "--json"], environment);
    expect(created.code, created.stderr).toBe(0);
    const job = JSON.parse(created.stdout) as { id: string };

    const following = tunekit(["jobs", "events", job.id, "--follow"], environment);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const cancelled = await tunekit(["jobs", "cancel", job.id], environment);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain("cancelled");
    const followed = await following;
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toMatch(/Validating training file[\s\S]*job queued[\s\S]*Fine-tuning job cancelled/);

    const again = await tunekit(["jobs", "cancel", job.id, "--json"], environment);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ error: { kind: "conflict", code: "invalid_state_transition" } });

    const listed = await tunekit(["jobs", "list"], environment);
    expect(listed.stdout).toContain(job.id);
    const shown = await tunekit(["jobs", "show", job.id], environment);
    expect(shown.stdout).toMatch(/status|cancelled/);
  });

  it("every files and jobs command prints JSON that matches its schema in schemas/cli", async () => {
    const environment = { TUNEKIT_SERVER: server.url, TUNEKIT_API_KEY: key };
    const run = async (name: string, args: string[]) => {
      const result = await tunekit([...args, "--json"], environment);
      return { code: result.code, body: expectJsonOutput<Record<string, unknown>>(name, result.stdout) };
    };
    const uploaded = await run("files-upload", ["files", "upload", "train.jsonl"]);
    const fileId = uploaded.body.id as string;
    expect((await run("files-list", ["files", "list"])).code).toBe(0);
    expect((await run("files-show", ["files", "show", fileId])).code).toBe(0);
    const created = await run("jobs-create", ["jobs", "create", "--model", "tiny-base", "--training-file", fileId, "--seed", "7"]);
    expect(created.code).toBe(0);
    const jobId = created.body.id as string;
    expect((await run("jobs-list", ["jobs", "list", "--limit", "5"])).body.object).toBe("list");
    expect((await run("jobs-show", ["jobs", "show", jobId])).body.id).toBe(jobId);
    const events = await tunekit(["jobs", "events", jobId, "--json"], environment);
    expect(events.code, events.stderr).toBe(0);
    expectJsonOutput("jobs-events", events.stdout);
    expect((await run("jobs-checkpoints", ["jobs", "checkpoints", jobId])).code).toBe(0);
    const paused = await run("jobs-pause", ["jobs", "pause", jobId]);
    if (paused.code === 0) expect((await run("jobs-resume", ["jobs", "resume", jobId])).code).toBe(0);
    expect((await run("jobs-cancel", ["jobs", "cancel", jobId])).code).toBe(0);
    const deleted = await run("files-delete", ["files", "delete", fileId]);
    expect(deleted.body).toMatchObject({ id: fileId, deleted: true });
  });

  it("a revoked key stops working: exit 2 and the server says the key is wrong", async () => {
    const created = await tunekit(["keys", "create", "--project", "cli", "--data-dir", dataDir, "--json"]);
    const { key: doomed, id } = JSON.parse(created.stdout) as { key: string; id: string };
    expect((await tunekit(["files", "list"], { TUNEKIT_SERVER: server.url, TUNEKIT_API_KEY: doomed })).code).toBe(0);
    expect((await tunekit(["keys", "revoke", id, "--data-dir", dataDir])).code).toBe(0);
    const refused = await tunekit(["files", "list", "--server", server.url, "--api-key", doomed]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("incorrect API key");
    const listed = await tunekit(["keys", "list", "--data-dir", dataDir, "--json"]);
    expect((JSON.parse(listed.stdout) as { data: Array<{ id: string; revoked_at: number | null }> }).data.find((record) => record.id === id)?.revoked_at).not.toBeNull();
  });

  it("`tunekit server --open` opens the web UI's address in the user's browser (xdg-open's $BROWSER here)", async () => {
    const opened = join(scratch, "opened.txt");
    const browser = join(scratch, "browser.sh");
    writeFileSync(browser, `#!/bin/sh\nprintf '%s' "$1" > ${opened}\n`, { mode: 0o755 });
    // `server --model` refuses a model that is not there; an HF folder needs only its config.json to be listed
    mkdirSync(join(scratch, "tiny-base"), { recursive: true });
    writeFileSync(join(scratch, "tiny-base", "config.json"), "{}");
    const child = spawn(
      process.execPath,
      [join(root, "dist", "cli", "main.js"), "server", "--no-auth", "--port", "0", "--data-dir", join(scratch, "open-data"), "--model", "tiny-base", "--open", "--json"],
      {
        cwd: scratch,
        // no desktop session: xdg-open falls back to $BROWSER
        env: { ...process.env, BROWSER: browser, DISPLAY: "", WAYLAND_DISPLAY: "", XDG_CURRENT_DESKTOP: "" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      let output = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
      const deadline = Date.now() + 60_000;
      while (!existsSync(opened) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      const { url } = expectJsonOutput<{ url: string }>("server", output);
      expect(readFileSync(opened, "utf8")).toBe(`${url}/`);
      const page = await fetch(`${url}/`);
      expect(await page.text()).toContain('<div id="app">');
    } finally {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
  });

  it("refuses --no-auth on a non-loopback host", async () => {
    const refused = await tunekit(["server", "--no-auth", "--host", "0.0.0.0", "--port", "0", "--data-dir", dataDir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("`--no-auth` is refused");
  });
});
