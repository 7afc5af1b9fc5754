import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ClusterEngine } from "../../spec/cluster-engine.js";
import { EngineLogMirror } from "./engine-log-mirror.js";
import { readFileFrom } from "../../core/read-file-from.js";

// The mirror's own rules, on a log that grows between reads as an engine's does (the Ray and Slurm
// backend tests run it against the real engines).
const runDirs: string[] = [];
afterEach(() => runDirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function growingLog(): { engine: ClusterEngine; lines: string[]; failNext: () => void } {
  const lines: string[] = [];
  let fail = false;
  const engine = {
    logs: async (_id: string, tail: number) => {
      if (fail) {
        fail = false;
        throw new Error("connection reset");
      }
      return lines.slice(-tail);
    },
  } as unknown as ClusterEngine;
  return { engine, lines, failNext: () => (fail = true) };
}

describe("EngineLogMirror", () => {
  it("copies each line once, holds back the last line until the job ends, and leaves out the ranks' event lines", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "tunekit-log-mirror-"));
    runDirs.push(runDir);
    const { engine, lines, failNext } = growingLog();
    const mirror = new EngineLogMirror(engine, "job-1", runDir, "== attempt a/1: test job job-1", 0);
    const log = () => readFileSync(join(runDir, "worker.log"), "utf8");

    lines.push("(RayTrainWorker pid=7) [tunekit-worker] info: loading", "(RayTrainWorker pid=7) [tunekit-worker] info: trai");
    await mirror.update();
    expect(log()).toBe("== attempt a/1: test job job-1\n(RayTrainWorker pid=7) [tunekit-worker] info: loading\n");

    // the held-back line was still being written; an event line and an unreadable moment
    lines[1] = "(RayTrainWorker pid=7) [tunekit-worker] info: training";
    lines.push('(RayTrainWorker pid=7) {"v": 1, "type": "metrics", "step": 1}', '{"v": 1, "type": "done"}', "last words");
    failNext();
    await mirror.update();
    await mirror.update();
    await mirror.update(true);
    await mirror.update(true);
    expect(log().split("\n")).toEqual([
      "== attempt a/1: test job job-1",
      "(RayTrainWorker pid=7) [tunekit-worker] info: loading",
      "(RayTrainWorker pid=7) [tunekit-worker] info: training",
      "last words",
      "",
    ]);
  });

  it("reads an engine's log by position where the engine can (Slurm's output file): from where the last read stopped, a line being written held back, a line longer than a read taken whole", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "tunekit-log-mirror-"));
    runDirs.push(runDir);
    const out = join(runDir, "slurm-7.out");
    let bytesRead = 0;
    const engine = {
      logs: async () => {
        throw new Error("an engine with readLog is never read whole");
      },
      readLog: async (_id: string, offset: number, limit: number) => {
        const bytes = readFileFrom(out, offset, limit);
        bytesRead += bytes.length;
        return bytes;
      },
    } as unknown as ClusterEngine;
    const mirror = new EngineLogMirror(engine, "7", runDir, "== attempt a/1: slurm job 7", 0);
    const log = () => readFileSync(join(runDir, "worker.log"), "utf8");

    await mirror.update(); // no output file yet
    writeFileSync(out, "srun: starting\n[tunekit-worker] info: load");
    await mirror.update();
    expect(log()).toBe("== attempt a/1: slurm job 7\nsrun: starting\n");
    const long = "x".repeat(1.5 * (1 << 20));
    appendFileSync(out, `ing\n{"v": 1, "type": "metrics", "step": 1}\n${long}\n`);
    await mirror.update();
    appendFileSync(out, "exit 0, no newline");
    await mirror.update();
    await mirror.update(true);
    await mirror.update(true);
    const copied = log().split("\n");
    // (compared without printing a 1.5 MB line when it fails)
    expect(copied.map((line) => (line === long ? "<the long line, whole>" : line.slice(0, 80)))).toEqual([
      "== attempt a/1: slurm job 7",
      "srun: starting",
      "[tunekit-worker] info: loading",
      "<the long line, whole>",
      "exit 0, no newline",
      "",
    ]);
    // from where the last read stopped: at most the bytes after a read's last newline are read again,
    // and a read of a log that did not grow reads nothing (a whole-log read would have read it all 5 times)
    const size = readFileSync(out).length;
    expect(bytesRead).toBeLessThan(2 * size);
    const before = bytesRead;
    await mirror.update(true);
    expect(bytesRead).toBe(before);
  });
});
