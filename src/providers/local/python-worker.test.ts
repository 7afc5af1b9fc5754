import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { WorkerJobSpec } from "../../core/worker-job-spec.js";
import { defaultConfig } from "../../core/config-schema.js";
import type { WorkerEvent } from "../../spec/worker-events.js";
import { packageRoot } from "./worker-environment.js";
import { EVENTS_FILE, JOB_FILE, PythonWorkerBridge, WORKER_LOG_FILE, startWorker, workerCommand, type StartWorkerOptions } from "./python-worker.js";
import { untilEvent } from "../../../test/helpers/until-event.js";

const python = join(packageRoot(), ".venv", "bin", "python");
const fixture = fileURLToPath(new URL("./python-worker.fixture.py", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "tunekit-python-worker-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let runCounter = 0;
function launch(mode: string, extra: Partial<StartWorkerOptions> = {}) {
  const runDir = join(scratch, `run-${runCounter++}-${mode}`);
  const defaults = defaultConfig();
  const spec: WorkerJobSpec = {
    v: 1,
    run_dir: runDir,
    model: "/models/none",
    data: { ...defaults.data, train: "/data/train.jsonl", validation: null },
    training: { ...defaults.training, epochs: 1 },
    resume_from: null,
  };
  const events: WorkerEvent[] = [];
  const worker = startWorker({
    command: { command: python, args: [fixture, mode, join(runDir, JOB_FILE)] },
    runDir,
    spec,
    onEvent: (event) => events.push(event),
    ...extra,
  });
  return { worker, runDir, events };
}

describe("workerCommand", () => {
  it("runs the worker module directly for one process and through torch.distributed.run for several", () => {
    expect(workerCommand("/venv/bin/python", "/run/job.json")).toEqual({ command: "/venv/bin/python", args: ["-m", "tunekit_worker", "train", "/run/job.json"] });
    expect(workerCommand("/venv/bin/python", "/run/job.json", 4).args).toEqual([
      "-m",
      "torch.distributed.run",
      "--standalone",
      "--nproc_per_node",
      "4",
      "-m",
      "tunekit_worker",
      "train",
      "/run/job.json",
    ]);
  });
});

describe("WorkerProcess against real child processes", () => {
  it("exit 0 with a done event: done, job.json written, every event appended to events.jsonl", async () => {
    const { worker, runDir, events } = launch("done");
    const outcome = await worker.finished;
    expect(outcome.status).toBe("done");
    expect(outcome.exitCode).toBe(0);
    expect(outcome.done?.summary.steps).toBe(1);
    expect(events.map((event) => event.type)).toEqual(["started", "metrics", "done"]);
    expect(JSON.parse(readFileSync(join(runDir, JOB_FILE), "utf8")).run_dir).toBe(runDir);
    const logged = readFileSync(join(runDir, EVENTS_FILE), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).type);
    expect(logged).toEqual(["started", "metrics", "done"]);
    expect(readFileSync(join(runDir, WORKER_LOG_FILE), "utf8")).toContain("fixture worker starting in mode done");
  });

  it("exit 0 without a done event is a failure", async () => {
    const outcome = await launch("exit0-without-done").worker.finished;
    expect(outcome.status).toBe("failed");
    expect(outcome.message).toContain("without a `done` event");
  });

  it.each([
    ["failed", "failed", 1],
    ["bad_config", "bad_config", 2],
    ["diverged", "diverged", 4],
  ] as const)("mode %s maps exit %s to %s", async (mode, status, code) => {
    const outcome = await launch(mode).worker.finished;
    expect(outcome.status).toBe(status);
    expect(outcome.exitCode).toBe(code);
    if (mode === "bad_config") expect(outcome.message).toContain("`model` is not a model folder");
    if (mode === "diverged") expect(outcome.message).toContain("NaN");
    if (mode === "failed") expect(outcome.stderrTail.join("\n")).toContain("RuntimeError: something broke");
  });

  it("a malformed stdout line is a protocol error that names the line, not a crash", async () => {
    const problems: string[] = [];
    const { worker, runDir, events } = launch("malformed", { onProtocolError: (problem) => problems.push(problem.line) });
    const outcome = await worker.finished;
    expect(outcome.protocolErrors.map((problem) => problem.line)).toEqual(["this is not json", '{"v":1,"type":"metrics","step":"one"}']);
    expect(outcome.protocolErrors[0]!.message).toMatch(/not JSON/);
    expect(outcome.protocolErrors[1]!.message).toContain("`step`");
    expect(problems).toHaveLength(2);
    // the valid event after the bad lines still arrived
    expect(events.some((event) => event.type === "log" && event.message === "still alive")).toBe(true);
    expect(readFileSync(join(runDir, EVENTS_FILE), "utf8")).not.toContain("this is not json");
  });

  it("a worker killed by SIGKILL is reported with the signal name and a bounded stderr tail", async () => {
    const outcome = await launch("sigkill").worker.finished;
    expect(outcome.status).toBe("failed");
    expect(outcome.signal).toBe("SIGKILL");
    expect(outcome.exitCode).toBeNull();
    expect(outcome.message).toContain("SIGKILL (9)");
    expect(outcome.stderrTail).toHaveLength(50);
    expect(outcome.stderrTail.at(-1)).toBe("about to die");
  });

  it("a worker that crashes while exiting after its done event still reports done, naming the signal", async () => {
    const outcome = await launch("done-then-killed").worker.finished;
    expect(outcome.status).toBe("done");
    expect(outcome.signal).toBe("SIGSEGV");
    expect(outcome.message).toContain("SIGSEGV");
  });

  it("cancel() sends SIGTERM and waits for the worker's checkpoint (exit 3 = cancelled)", async () => {
    const { worker, events } = launch("cancellable");
    await untilEvent(events, (event) => event.type === "log" && event.message === "ready", 20_000);
    const outcome = await worker.cancel();
    expect(outcome.status).toBe("cancelled");
    expect(outcome.exitCode).toBe(3);
    expect(outcome.cancelled?.checkpoint_path).toMatch(/step-000002$/);
    expect(existsSync(outcome.cancelled!.checkpoint_path!)).toBe(true);
    expect(outcome.lastCheckpoint?.step).toBe(2);
  });

  it("a second cancel() kills a worker that ignores SIGTERM; so does the cancel timeout", async () => {
    const first = launch("stubborn");
    await untilEvent(first.events, (event) => event.type === "log" && event.message === "ready", 20_000);
    const pending = first.worker.cancel();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(first.worker.running).toBe(true);
    const outcome = await first.worker.cancel();
    expect(await pending).toBe(outcome);
    expect(outcome.signal).toBe("SIGKILL");
    expect(outcome.status).toBe("cancelled");
    expect(outcome.message).toContain("after cancel");

    const second = launch("stubborn", { cancelTimeoutMs: 300 });
    await untilEvent(second.events, (event) => event.type === "log" && event.message === "ready", 20_000);
    const timedOut = await second.worker.cancel();
    expect(timedOut.signal).toBe("SIGKILL");
  });

  it("a command that cannot start is a failure naming it", async () => {
    const runDir = join(scratch, "no-python");
    const outcome = await startWorker({ command: { command: join(scratch, "missing-python"), args: [] }, runDir }).finished;
    expect(outcome.status).toBe("failed");
    expect(outcome.message).toContain("missing-python");
  });
});

describe("PythonWorkerBridge (the spec/python-worker.ts side serve uses)", () => {
  // a stand-in worker package: `answer` prints what it was started with as its JSON answer,
  // `refuse` answers with an error event and exit 2, `serve` echoes stdin lines
  const root = join(scratch, "stand-in-worker");
  mkdirSync(join(root, "tunekit_worker"), { recursive: true });
  writeFileSync(join(root, "tunekit_worker", "__init__.py"), "");
  writeFileSync(
    join(root, "tunekit_worker", "__main__.py"),
    [
      "import json, os, sys",
      "command = sys.argv[1]",
      "if command == 'answer':",
      "    print('progress on stdout before the answer')",
      "    print(json.dumps({'args': sys.argv[2:], 'llama': os.environ.get('TUNEKIT_TEST_DEFAULT'), 'pythonpath': os.environ['PYTHONPATH']}))",
      "elif command == 'refuse':",
      "    print(json.dumps({'type': 'error', 'code': 'bad_input', 'message': '`--format` is unknown', 'field': '--format'}))",
      "    sys.exit(2)",
      "elif command == 'serve':",
      "    for line in sys.stdin:",
      "        print(json.dumps({'echo': line.strip()}), flush=True)",
      "",
    ].join("\n"),
  );

  it("runs a short command and reads its JSON answer; environment defaults fill only what the environment lacks", async () => {
    const bridge = new PythonWorkerBridge({ python, workerRoot: root, environment: { ...process.env, TUNEKIT_TEST_DEFAULT: "" } });
    const answer = await bridge.runJson<{ args: string[]; llama: string | null; pythonpath: string }>(["answer", "a b"], {
      label: "export",
      environmentDefaults: { TUNEKIT_TEST_DEFAULT: "lib" },
    });
    expect(answer).toEqual({ args: ["a b"], llama: "lib", pythonpath: root });
    const kept = new PythonWorkerBridge({ python, workerRoot: root, environment: { ...process.env, TUNEKIT_TEST_DEFAULT: "mine" } });
    expect((await kept.runJson<{ llama: string }>(["answer"], { label: "export", environmentDefaults: { TUNEKIT_TEST_DEFAULT: "lib" } })).llama).toBe("mine");
  });

  it("turns the worker's own error with exit 2 into a usage error naming the field", async () => {
    const bridge = new PythonWorkerBridge({ python, workerRoot: root });
    await expect(bridge.runJson(["refuse"], { label: "export" })).rejects.toMatchObject({ kind: "usage", code: "bad_input", field: "--format" });
  });

  it("spawns a long-lived command that speaks JSON Lines on stdin and stdout", async () => {
    const child = new PythonWorkerBridge({ python, workerRoot: root }).spawn(["serve"]);
    const line = new Promise<string>((resolve) => child.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim())));
    child.stdin.write("hello\n");
    expect(JSON.parse(await line)).toEqual({ echo: "hello" });
    child.stdin.end();
    await new Promise((resolve) => child.once("close", resolve));
  });

  it("finds the `tunekit setup` venv when no interpreter is given, and names `tunekit setup` when it is missing", () => {
    const bridge = new PythonWorkerBridge({ environment: { ...process.env, TUNEKIT_VENV: join(scratch, "no-venv") } });
    let thrown: unknown;
    try {
      bridge.resolve();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ kind: "environment", code: "worker_env_missing", fix: expect.stringContaining("tunekit setup") });
    expect(() => bridge.spawn(["serve"])).toThrow(/does not exist/);
  });
});
