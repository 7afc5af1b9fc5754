import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ClusterEngine } from "../../spec/cluster-engine.js";
import { EngineLogMirror } from "./engine-log-mirror.js";

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
});
