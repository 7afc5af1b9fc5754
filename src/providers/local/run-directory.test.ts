import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TunekitError } from "../../core/errors.js";
import { writeCompleteCheckpoint } from "../../../test/helpers/checkpoint-folder.js";
import { latestCheckpoint, modelStem, newRunDirectory, readJobSpec, runTimestamp } from "./run-directory.js";

const scratch = mkdtempSync(join(tmpdir(), "tunekit-run-dir-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("run folders", () => {
  it("names a run after the model stem and the local time", () => {
    expect(modelStem("HuggingFaceTB/SmolLM2-135M-Instruct")).toBe("SmolLM2-135M-Instruct");
    expect(modelStem("/models/SmolLM2-135M-Instruct.Q4_1.gguf")).toBe("SmolLM2-135M-Instruct.Q4_1");
    expect(modelStem("./tiny model/")).toBe("tiny-model");
    expect(runTimestamp(new Date(2026, 0, 2, 3, 4, 5))).toBe("20260102-030405");
  });

  it("adds -2 when two runs start in the same second, and refuses a named folder that holds a run", () => {
    const now = new Date(2026, 10, 24, 16, 0, 0);
    const first = newRunDirectory(scratch, null, "org/tiny", now);
    expect(first).toBe(join(scratch, "tiny-20261124-160000"));
    mkdirSync(first);
    expect(newRunDirectory(scratch, null, "org/tiny", now)).toBe(join(scratch, "tiny-20261124-160000-2"));

    const named = newRunDirectory(scratch, "mine", "org/tiny", now);
    expect(named).toBe(join(scratch, "mine"));
    mkdirSync(named);
    writeFileSync(join(named, "job.json"), "{}");
    let error: unknown;
    try {
      newRunDirectory(scratch, "mine", "org/tiny", now);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TunekitError);
    expect((error as TunekitError).fix).toContain("--resume");
  });

  it("resumes from the highest complete step folder, ignoring staging folders", () => {
    const runDir = join(scratch, "resumable");
    expect(latestCheckpoint(runDir)).toBeNull();
    for (const [name, step] of [
      ["step-000004", 4],
      ["step-000012", 12],
      ["step-000008", 8],
      ["step-000016.tmp", 16],
    ] as const)
      writeCompleteCheckpoint(join(runDir, "checkpoints", name), step);
    mkdirSync(join(runDir, "checkpoints", "notes"), { recursive: true });
    mkdirSync(join(runDir, "checkpoints", "step-000014"), { recursive: true }); // no trainer_state.json: not complete
    writeFileSync(join(runDir, "checkpoints", "step-000099"), "a file, not a checkpoint");
    expect(latestCheckpoint(runDir)).toBe(join(runDir, "checkpoints", "step-000012"));
  });

  it("reads job.json back and refuses a folder without one or with a foreign one", () => {
    const runDir = join(scratch, "job");
    mkdirSync(runDir);
    expect(() => readJobSpec(runDir)).toThrow(/not a run folder/);
    writeFileSync(join(runDir, "job.json"), "{ not json");
    expect(() => readJobSpec(runDir)).toThrow(/not valid JSON/);
    writeFileSync(join(runDir, "job.json"), JSON.stringify({ v: 2 }));
    expect(() => readJobSpec(runDir)).toThrow(/not a version 1 job spec/);
    const spec = { v: 1, run_dir: runDir, model: "m", data: { train: "/t.jsonl", validation: null }, training: { epochs: 1 }, resume_from: null };
    writeFileSync(join(runDir, "job.json"), JSON.stringify(spec));
    expect(readJobSpec(runDir)).toEqual(spec);
  });
});
