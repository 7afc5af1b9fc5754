import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectJsonLines } from "./helpers/cli-json-contract.js";

/**
 * `tunekit train` end to end: the real CLI (dist/cli/main.js, built by `make build`), the real worker in the
 * project venv, a tiny random Llama built at test time by the worker's own test helper.
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const python = join(root, ".venv", "bin", "python");
const scratch = mkdtempSync(join(tmpdir(), "tunekit-train-e2e-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const workerEnvironment = { ...process.env, OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false", TUNEKIT_VENV: join(root, ".venv") };

/**
 * Run the CLI; `onStdoutLine` may return "interrupt" to send SIGINT to the CLI (as Ctrl-C does),
 * or "kill" to SIGKILL it (a supervisor that dies without any chance to clean up).
 */
function tunekit(args: string[], options: { env?: NodeJS.ProcessEnv; onStdoutLine?: (line: string) => "interrupt" | "kill" | void } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, "dist", "cli", "main.js"), ...args], {
      cwd: scratch,
      env: options.env ?? workerEnvironment,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let pending = "";
    let interrupted = false;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      pending += chunk.toString("utf8");
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        const verdict = interrupted ? undefined : options.onStdoutLine?.(line);
        if (verdict === "interrupt" || verdict === "kill") {
          interrupted = true;
          child.kill(verdict === "kill" ? "SIGKILL" : "SIGINT");
        }
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return expectJsonLines("train", stdout);
}

function writeConfig(name: string, body: string): string {
  const path = join(scratch, name);
  writeFileSync(path, body);
  return path;
}

const baseConfig = (runName: string, training: string, train = "data/train.jsonl") => `# tunekit train -c ${runName}.yaml
model: ./tiny-model
data:
  train: ${train}
  validation: data/valid.jsonl
  max_seq_len: 128
training:
  batch_size: 8
  micro_batch_size: 4
  learning_rate: 0.005
  warmup_ratio: 0
  threads: 1
  lora: { r: 8, alpha: 16, dropout: 0 }
${training}
output:
  dir: runs
  name: ${runName}
`;

beforeAll(() => {
  // the worker's own test helper builds the tiny model and the toy dataset
  mkdirSync(join(scratch, "data"), { recursive: true });
  execFileSync(
    python,
    [
      "-c",
      [
        "import sys",
        "from pathlib import Path",
        "from conftest import build_tiny_model, chat_examples, write_jsonl",
        "root = Path(sys.argv[1])",
        "build_tiny_model(root / 'tiny-model')",
        "write_jsonl(root / 'data' / 'train.jsonl', chat_examples(32))",
        "write_jsonl(root / 'data' / 'valid.jsonl', chat_examples(12, offset=100))",
      ].join("\n"),
      scratch,
    ],
    { env: { ...workerEnvironment, PYTHONPATH: [join(root, "worker", "tests"), join(root, "worker")].join(":") }, stdio: "pipe" },
  );
  const good = readFileSync(join(scratch, "data", "train.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean);
  // line 3 is broken JSON, line 5 has no assistant message
  good[2] = good[2]!.slice(0, -5);
  good[4] = JSON.stringify({ messages: [{ role: "user", content: "What color is the sky?" }] });
  writeFileSync(join(scratch, "data", "bad.jsonl"), `${good.join("\n")}\n`);
});

describe("tunekit train", () => {
  it("refuses a bad training file before launching the worker, naming the lines", async () => {
    const config = writeConfig("bad.yaml", baseConfig("bad-run", "  epochs: 1", "data/bad.jsonl"));
    const human = await tunekit(["train", "-c", config]);
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/line 3/);
    expect(human.stderr).toMatch(/line 5/);
    expect(human.stderr).toContain("tunekit data validate");
    expect(existsSync(join(scratch, "runs", "bad-run"))).toBe(false);

    const json = await tunekit(["train", "-c", config, "--json"]);
    expect(json.code).toBe(1);
    const lines = jsonLines(json.stdout);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ type: "result", status: "invalid_data", error: { code: "invalid_data" } });
    expect(existsSync(join(scratch, "runs", "bad-run"))).toBe(false);
  });

  it("tells the user to run `tunekit setup` when the worker environment is missing", async () => {
    const config = writeConfig("no-venv.yaml", baseConfig("no-venv-run", "  epochs: 1"));
    const run = await tunekit(["train", "-c", config], { env: { ...workerEnvironment, TUNEKIT_VENV: join(scratch, "no-venv") } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("tunekit setup");
    expect(existsSync(join(scratch, "runs", "no-venv-run"))).toBe(false);
  });

  it("trains to the end and prints where the adapter and the summary are", async () => {
    const config = writeConfig("done.yaml", baseConfig("done-run", "  epochs: 2\n  eval_every: 2\n  checkpoint_every: 4"));
    const run = await tunekit(["train", "-c", config, "--progress-every", "2"]);
    expect(run.stderr, run.stderr).not.toContain("error:");
    expect(run.code).toBe(0);
    const runDir = join(scratch, "runs", "done-run");
    expect(run.stdout).toContain(`adapter: ${join(runDir, "adapter")}`);
    expect(run.stdout).toMatch(/training finished: 8 steps/);
    expect(run.stderr).toMatch(/step 8\/8 \| epoch 2\.00 \| loss \d+\.\d+ \| val \d+\.\d+/);
    expect(run.stderr).toMatch(/checkpoint step 4/);
    expect(readdirSync(join(runDir, "adapter"))).toEqual(expect.arrayContaining(["adapter_config.json"]));
    const summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8")) as Record<string, unknown>;
    expect(summary).toBeTypeOf("object");
    const events = readFileSync(join(runDir, "events.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string });
    expect(events[0]!.type).toBe("started");
    expect(events.at(-1)!.type).toBe("done");
    expect(JSON.parse(readFileSync(join(runDir, "job.json"), "utf8"))).toMatchObject({ v: 1, run_dir: runDir, training: { epochs: 2 }, resume_from: null });
  });

  it("Ctrl-C leaves a checkpoint and prints the resume command; --resume finishes the run", async () => {
    const config = writeConfig("long.yaml", baseConfig("long-run", "  epochs: 10\n  max_steps: 30\n  eval_every: 1000\n  checkpoint_every: 1000"));
    const runDir = join(scratch, "runs", "long-run");
    const first = await tunekit(["train", "-c", config, "--json"], {
      onStdoutLine: (line) => {
        const event = JSON.parse(line) as { type: string; step?: number };
        return event.type === "metrics" && event.step === 5 ? "interrupt" : undefined;
      },
    });
    expect(first.code, first.stderr).toBe(130);
    const firstLines = jsonLines(first.stdout);
    const cancelled = firstLines.find((line) => line.type === "cancelled") as { step: number; checkpoint_path: string } | undefined;
    expect(cancelled, first.stdout).toBeDefined();
    expect(cancelled!.step).toBeGreaterThanOrEqual(5);
    expect(cancelled!.step).toBeLessThan(30);
    expect(existsSync(cancelled!.checkpoint_path)).toBe(true);
    expect(firstLines.at(-1)).toMatchObject({
      type: "result",
      status: "cancelled",
      resume_command: `tunekit train --resume ${runDir}`,
      last_checkpoint: cancelled!.checkpoint_path,
    });

    const second = await tunekit(["train", "--resume", runDir, "--json"]);
    expect(second.code, second.stderr).toBe(0);
    const secondLines = jsonLines(second.stdout);
    expect(secondLines.find((line) => line.type === "started")).toMatchObject({ resumed_from: cancelled!.checkpoint_path });
    const firstMetrics = secondLines.find((line) => line.type === "metrics") as { step: number };
    expect(firstMetrics.step).toBe(cancelled!.step + 1);
    const result = secondLines.at(-1) as { type: string; status: string; summary: { steps: number }; adapter_path: string };
    expect(result).toMatchObject({ type: "result", status: "done" });
    expect(result.summary.steps).toBe(30);
    expect(existsSync(result.adapter_path)).toBe(true);
  });

  it("a worker whose supervisor is SIGKILLed checkpoints and exits instead of training on as an orphan", async () => {
    const config = writeConfig("orphan.yaml", baseConfig("orphan-run", "  epochs: 10\n  max_steps: 400\n  eval_every: 1000\n  checkpoint_every: 1000"));
    let workerPid = 0;
    const run = await tunekit(["train", "-c", config, "--json"], {
      onStdoutLine: (line) => {
        const event = JSON.parse(line) as { type: string; step?: number; pid?: number };
        if (event.type === "started") workerPid = event.pid!;
        return event.type === "metrics" && event.step === 3 ? "kill" : undefined;
      },
    });
    expect(run.signal).toBe("SIGKILL");
    expect(workerPid).toBeGreaterThan(0);
    const deadline = Date.now() + 60_000;
    while (existsSync(`/proc/${workerPid}`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(existsSync(`/proc/${workerPid}`)).toBe(false);
    const checkpoints = readdirSync(join(scratch, "runs", "orphan-run", "checkpoints"));
    expect(checkpoints.length).toBeGreaterThan(0);
    expect(existsSync(join(scratch, "runs", "orphan-run", "adapter"))).toBe(false);
  });
});
