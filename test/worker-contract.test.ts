/**
 * The TypeScript <-> Python contract of the job spec: defaults and bounds are written once, in zod.
 *
 * - worker/tunekit_worker/schemas/job-spec.v1.schema.json is the JSON Schema generated from
 *   `workerJobSpecSchema`; the worker's test (worker/tests/test_job_spec_contract.py) compares the
 *   Python dataclasses against it field by field. Here: the committed file is not stale, and the
 *   spec the server writes for an API job is inside the schema.
 * - The learning-rate question: for any job, the `learning_rate_multiplier` the API reports times
 *   the base rate (the worker's `auto` rate for the method and the model's size) is the learning
 *   rate the worker trains with, and an explicit multiplier scales that base.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WORKER_JOB_SPEC_SCHEMA_PATH, workerJobSpecJsonSchema, workerJobSpecSchema } from "../src/core/worker-job-spec.js";
import type { WorkerEvent } from "../src/spec/worker-events.js";
import type { JobOptions } from "../src/jobs/create-job-params.js";
import { mapWorkerEvent } from "../src/jobs/worker-event-mapper.js";
import { BASE_LEARNING_RATE, jobWorkerSpec } from "../src/jobs/worker-job-spec.js";
import { haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

function apiJobSpec(methodType: "supervised" | "dpo", multiplier: number | "auto", method?: "lora" | "full") {
  return jobWorkerSpec({
    runDir: "/tmp/tunekit-contract/run",
    modelSource: "/tmp/tunekit-contract/model",
    trainingPath: "/tmp/tunekit-contract/train.jsonl",
    validationPath: null,
    trainingExamples: 200,
    methodType,
    hyperparameters: { learning_rate_multiplier: multiplier, n_epochs: 1, batch_size: "auto" },
    seed: 1,
    resumeFrom: null,
    ...(method ? { jobOptions: { training: { method }, data: {} } satisfies JobOptions } : {}),
  });
}

interface WorkerResolution {
  learning_rate: number;
  learning_rate_multiplier: number;
  base: number;
}

/** What the worker resolves for these training settings on a model of `parameters` (auto_hyperparameters.py, as Run.resolve calls it). */
function workerResolves(cases: Array<{ training: Record<string, unknown>; parameters: number }>): WorkerResolution[] {
  const code = [
    "import json, sys",
    "from tunekit_worker.auto_hyperparameters import base_learning_rate, resolve_hyperparameters",
    "out = []",
    "for case in json.loads(sys.argv[1]):",
    "    t, p = case['training'], case['parameters']",
    "    r = resolve_hyperparameters(t['method'], p, 200, t['batch_size'], t['micro_batch_size'], t['learning_rate'], 'cpu', t['packing'], 1024, t['learning_rate_multiplier'])",
    "    out.append({'learning_rate': r.learning_rate, 'learning_rate_multiplier': r.learning_rate_multiplier, 'base': base_learning_rate(t['method'], p)})",
    "print(json.dumps(out))",
  ].join("\n");
  const stdout = execFileSync(python, ["-c", code, JSON.stringify(cases)], { env: { ...process.env, PYTHONPATH: workerRoot }, encoding: "utf8" });
  return JSON.parse(stdout) as WorkerResolution[];
}

function configEvent(spec: ReturnType<typeof apiJobSpec>, resolution: WorkerResolution, parameters: number, workerReportsMultiplier = true): WorkerEvent {
  const { learning_rate_multiplier: _multiplier, ...training } = spec.training;
  return {
    v: 1,
    type: "config",
    resolved: {
      ...spec,
      training: { ...training, learning_rate: resolution.learning_rate, ...(workerReportsMultiplier ? { learning_rate_multiplier: resolution.learning_rate_multiplier } : {}) },
      parameter_count: parameters,
    },
  };
}

describe("the job spec contract", () => {
  it("the committed JSON Schema of the worker job spec is the one generated from zod", () => {
    const committed = JSON.parse(readFileSync(WORKER_JOB_SPEC_SCHEMA_PATH, "utf8")) as unknown;
    expect(committed, "stale: run `npx tsc -p tsconfig.json && node scripts/generate-worker-schemas.mjs`").toEqual(workerJobSpecJsonSchema());
  });

  it("the spec the server writes for an API job is inside the schema", () => {
    for (const spec of [apiJobSpec("supervised", "auto"), apiJobSpec("dpo", 2), apiJobSpec("supervised", 0.5, "full")]) {
      const parsed = workerJobSpecSchema.safeParse(spec);
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });

  it("the run-config base rates are the under-1B row of the worker's table", () => {
    expect(BASE_LEARNING_RATE).toEqual({ adapter: 2e-4, full: 2e-5 });
  });
});

const BILLION = 1_000_000_000;

describe.skipIf(!haveWorker)("learning_rate_multiplier: what the API reports times the base is the rate the worker uses", () => {
  const cases = [
    { name: "LoRA, 135M, auto", methodType: "supervised" as const, multiplier: "auto" as const, parameters: 135_000_000 },
    { name: "LoRA, 135M, x1.5", methodType: "supervised" as const, multiplier: 1.5, parameters: 135_000_000 },
    { name: "LoRA, 3B, auto", methodType: "supervised" as const, multiplier: "auto" as const, parameters: 3 * BILLION },
    { name: "LoRA, 3B, x2", methodType: "supervised" as const, multiplier: 2, parameters: 3 * BILLION },
    { name: "full, 13B, x0.5", methodType: "supervised" as const, multiplier: 0.5, parameters: 13 * BILLION, method: "full" as const },
    { name: "DPO, 135M, auto", methodType: "dpo" as const, multiplier: "auto" as const, parameters: 135_000_000 },
    { name: "DPO, 135M, x2", methodType: "dpo" as const, multiplier: 2, parameters: 135_000_000 },
    { name: "DPO, 7B, x3", methodType: "dpo" as const, multiplier: 3, parameters: 7 * BILLION },
  ];
  const specs = cases.map((entry) => apiJobSpec(entry.methodType, entry.multiplier, entry.method));
  const resolutions = workerResolves(specs.map((spec, index) => ({ training: spec.training, parameters: cases[index]!.parameters })));

  it.each(cases.map((entry, index) => [entry.name, index] as const))("%s", (_name, index) => {
    const entry = cases[index]!;
    const spec = specs[index]!;
    const resolution = resolutions[index]!;
    // the multiplier scales the worker's own `auto` rate for this method and size
    const asked = entry.multiplier === "auto" ? 1 : entry.multiplier;
    expect(resolution.learning_rate).toBeCloseTo(asked * resolution.base, 12);
    // reported from the worker's config event, and from one of a worker that did not report it (an older journal)
    for (const reports of [true, false]) {
      const reported = mapWorkerEvent(configEvent(spec, resolution, entry.parameters, reports), BASE_LEARNING_RATE.adapter).resolvedHyperparameters?.learning_rate_multiplier;
      expect(reported, `worker reports the multiplier: ${reports}`).toBeCloseTo(asked, 4);
      expect((reported as number) * resolution.base).toBeCloseTo(resolution.learning_rate, 10);
    }
  });

  it("the worker's base rate is the one the TypeScript side reads from the same table", async () => {
    const { baseLearningRate } = await import("../src/jobs/worker-job-spec.js");
    for (const [index, entry] of cases.entries()) {
      expect(baseLearningRate(specs[index]!.training.method, entry.parameters)).toBe(resolutions[index]!.base);
    }
    expect(JSON.parse(readFileSync(join(workerRoot, "tunekit_worker", "auto_hyperparameters.json"), "utf8")).size_classes).toHaveLength(3);
  });
});
