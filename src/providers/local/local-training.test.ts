import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config-load.js";
import { TunekitError } from "../../core/errors.js";
import { writeCompleteCheckpoint } from "../../../test/helpers/checkpoint-folder.js";
import { dataChecker } from "./data-check.js";
import { prepareResume, prepareRun, resolveModel } from "./local-training.js";

const scratch = mkdtempSync(join(tmpdir(), "tunekit-local-training-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const example = (index: number) =>
  JSON.stringify({
    messages: [
      { role: "system", content: "Answer briefly." },
      { role: "user", content: `What is ${index} plus ${index}?` },
      { role: "assistant", content: `${index + index}.` },
    ],
  });

function project(name: string, trainLines: string[], extra = ""): string {
  const folder = join(scratch, name);
  mkdirSync(join(folder, "data"), { recursive: true });
  mkdirSync(join(folder, "model"), { recursive: true });
  writeFileSync(join(folder, "data", "train.jsonl"), `${trainLines.join("\n")}\n`);
  const config = join(folder, "tunekit.yaml");
  writeFileSync(config, `model: ./model\ndata:\n  train: data/train.jsonl\n${extra}`);
  return config;
}

async function rejection(promise: Promise<unknown>): Promise<TunekitError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TunekitError) return error;
    throw error;
  }
  throw new Error("expected a TunekitError");
}

describe("prepareRun", () => {
  it("resolves paths against the config file and epochs with the dataset-size rule", async () => {
    const config = project(
      "good",
      Array.from({ length: 20 }, (_, index) => example(index)),
    );
    const loaded = loadConfig(config);
    const prepared = await prepareRun(loaded, dataChecker("auto"), new Date(2026, 10, 24, 9, 30, 0));
    expect(prepared.runDir).toBe(join(scratch, "good", "runs", "model-20261124-093000"));
    expect(prepared.spec.model).toBe(join(scratch, "good", "model"));
    expect(prepared.spec.data.train).toBe(join(scratch, "good", "data", "train.jsonl"));
    expect(prepared.spec.data.validation).toBeNull();
    expect("test" in prepared.spec.data).toBe(false);
    // 20 examples: 20 x 3 < 100, so the rule picks floor(100 / 20) = 5 epochs
    expect(prepared.spec.training.epochs).toBe(5);
    expect(prepared.epochs).toEqual({ requested: "auto", resolved: 5 });
    expect(prepared.data?.trainExamples).toBe(20);
    expect(prepared.spec.resume_from).toBeNull();
  });

  it("refuses data with errors, listing each problem with its line", async () => {
    const lines = Array.from({ length: 12 }, (_, index) => example(index));
    lines[3] = "{ broken";
    lines[7] = JSON.stringify({ messages: [{ role: "user", content: "no answer" }] });
    const error = await rejection(prepareRun(loadConfig(project("bad", lines)), dataChecker("auto")));
    expect(error.code).toBe("invalid_data");
    expect(error.kind).toBe("data");
    expect(error.problems.map((problem) => problem.line)).toEqual(expect.arrayContaining([4, 8]));
    expect(error.format()).toContain("line 4");
  });

  it("refuses a hosted provider and a missing training file, naming the field", async () => {
    const hosted = await rejection(prepareRun(loadConfig(project("hosted", [example(1)], "provider: openai\n")), dataChecker("auto")));
    expect(hosted.field).toBe("provider");
    const missing = await rejection(prepareRun(loadConfig(project("missing", [example(1)]), ["data.train=data/nope.jsonl"]), dataChecker("auto")));
    expect(missing.field).toBe("data.train");
    expect(missing.message).toContain("nope.jsonl");
  });

  it("keeps a hub id as is and makes local model paths absolute", () => {
    const loaded = loadConfig(project("models", [example(1)]));
    expect(resolveModel(loaded, "HuggingFaceTB/SmolLM2-135M-Instruct")).toBe("HuggingFaceTB/SmolLM2-135M-Instruct");
    expect(resolveModel(loaded, "model")).toBe(join(scratch, "models", "model"));
    expect(resolveModel(loaded, "../elsewhere/m.gguf")).toBe(join(scratch, "elsewhere", "m.gguf"));
  });
});

describe("prepareResume", () => {
  it("continues from the newest checkpoint with the run's own job.json", () => {
    const runDir = join(scratch, "resume-run");
    const train = join(scratch, "resume-train.jsonl");
    writeFileSync(train, `${example(1)}\n`);
    writeCompleteCheckpoint(join(runDir, "checkpoints", "step-000010"), 10);
    writeCompleteCheckpoint(join(runDir, "checkpoints", "step-000020"), 20);
    writeFileSync(
      join(runDir, "job.json"),
      JSON.stringify({ v: 1, run_dir: "/old/place", model: "m", data: { train, validation: null }, training: { epochs: 2, num_processes: 1 }, resume_from: null }),
    );
    const prepared = prepareResume(runDir);
    expect(prepared.spec.resume_from).toBe(join(runDir, "checkpoints", "step-000020"));
    expect(prepared.spec.run_dir).toBe(runDir);
    expect(prepared.resumedFrom).toBe(prepared.spec.resume_from);
  });

  it("says so when the run has no checkpoint yet", () => {
    const runDir = join(scratch, "no-checkpoint");
    mkdirSync(runDir);
    writeFileSync(join(runDir, "job.json"), JSON.stringify({ v: 1, run_dir: runDir, model: "m", data: { train: "/x", validation: null }, training: {}, resume_from: null }));
    expect(() => prepareResume(runDir)).toThrow(/no checkpoint to resume from/);
  });
});
