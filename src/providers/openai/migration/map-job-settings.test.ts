import { describe, expect, it } from "vitest";
import type { FineTuningJob } from "../../../spec/openai-wire.js";
import type { ModelInfo, TrainingEstimateView } from "../../../spec/tunekit-wire.js";
import { mapJobSettings } from "./map-job-settings.js";
import { openAiJobSettings } from "./openai-job-settings.js";
import { proposeBaseModel } from "./propose-base-model.js";

const job = (overrides: Partial<FineTuningJob>): FineTuningJob =>
  ({
    id: "ftjob-abc",
    object: "fine_tuning.job",
    created_at: 1,
    error: null,
    fine_tuned_model: "ft:gpt-4o-mini-2024-07-18:acme:support:abc",
    finished_at: 2,
    hyperparameters: { batch_size: 4, learning_rate_multiplier: 1.8, n_epochs: 3 },
    model: "gpt-4o-mini-2024-07-18",
    organization_id: "org",
    result_files: [],
    seed: 11,
    status: "succeeded",
    trained_tokens: 1000,
    training_file: "file-t",
    validation_file: null,
    estimated_finish: null,
    integrations: null,
    metadata: null,
    method: { type: "supervised", supervised: { hyperparameters: { batch_size: 4, learning_rate_multiplier: 1.8, n_epochs: 3 } } },
    user_provided_suffix: "support",
    ...overrides,
  }) as FineTuningJob;

describe("openAiJobSettings + mapJobSettings", () => {
  it("carries epochs, batch size, seed, suffix; resets the multiplier unless asked; tags the job with where it came from", () => {
    const settings = openAiJobSettings(job({}));
    const mapped = mapJobSettings(settings, {
      model: "smollm2",
      trainingFile: "file-1",
      validationFile: null,
      keepLearningRateMultiplier: false,
      modelReason: "why",
      heldOutNote: null,
    });
    expect(mapped.params).toEqual({
      model: "smollm2",
      training_file: "file-1",
      method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 3, batch_size: 4, learning_rate_multiplier: "auto" } } },
      suffix: "support",
      seed: 11,
      metadata: { migrated_from: "ftjob-abc", migrated_from_model: "ft:gpt-4o-mini-2024-07-18:acme:support:abc" },
    });
    const kept = mapJobSettings(settings, {
      model: "smollm2",
      trainingFile: "file-1",
      validationFile: "file-2",
      keepLearningRateMultiplier: true,
      modelReason: "",
      heldOutNote: null,
    });
    expect(kept.params.method?.supervised?.hyperparameters?.learning_rate_multiplier).toBe(1.8);
    expect(kept.params.validation_file).toBe("file-2");
  });

  it("keeps a DPO job DPO, with its beta from the method", () => {
    const settings = openAiJobSettings(job({ method: { type: "dpo", dpo: { hyperparameters: { beta: 0.2, n_epochs: 2, batch_size: 8, learning_rate_multiplier: 1 } } } }));
    expect(settings).toMatchObject({ method: "dpo", beta: 0.2, nEpochs: 2, batchSize: 8 });
    const mapped = mapJobSettings(settings, { model: "m", trainingFile: "f", validationFile: null, keepLearningRateMultiplier: false, modelReason: "", heldOutNote: null });
    expect(mapped.params.method).toEqual({ type: "dpo", dpo: { hyperparameters: { n_epochs: 2, batch_size: 8, learning_rate_multiplier: "auto", beta: 0.2 } } });
    expect(mapped.changes.find((row) => row.setting === "beta")).toMatchObject({ openai: "0.2", tunekit: "0.2" });
  });
});

describe("proposeBaseModel", () => {
  const model = (id: string, parameters: number): ModelInfo => ({
    id,
    source: id,
    kind: "hf-folder",
    architecture: "llama",
    parameters,
    bytes: 1,
    context_length: 8192,
    hidden_size: 1,
    layers: 1,
    vocab_size: 1,
    weights: null,
    created: 0,
  });
  const estimate = (truncated: number, fits: boolean): TrainingEstimateView =>
    ({
      examples: 10,
      tokens: { per_epoch: 1, trained_per_epoch: 1, trained_total: 1, truncated_examples: truncated, max_seq_len: 2048 },
      memory: { device: "cpu", peak_bytes: 1, available_bytes: 1, fits, basis: "planner" },
      time: { seconds: 60, tokens_per_second: 1, basis: "" },
    }) as TrainingEstimateView;

  it("takes the largest model that fits memory, preferring one whose window holds every example", () => {
    const proposal = proposeBaseModel(
      [
        { model: model("huge", 70e9), estimate: estimate(0, false) },
        { model: model("big-truncating", 7e9), estimate: estimate(3, true) },
        { model: model("mid", 1.7e9), estimate: estimate(0, true) },
        { model: model("small", 135e6), estimate: estimate(0, true) },
        { model: model("broken", 1e9), estimate: null, error: "no tokenizer" },
      ],
      "gpt-4o-mini-2024-07-18",
    )!;
    expect(proposal.model).toBe("mid");
    expect(proposal.reason).toMatch(
      /^replaces gpt-4o-mini-2024-07-18: 1\.7B parameters, context 8,192 tokens; every example fits its 2,048-token training window; fits memory; the largest of 3/,
    );
    expect(proposal.candidates.find((row) => row.model === "big-truncating")!.reason).toContain("3 of 10 example(s) are longer");
    expect(proposal.candidates.find((row) => row.model === "broken")).toMatchObject({ eligible: false, reason: expect.stringContaining("no tokenizer") });
  });

  it("proposes nothing when no model fits", () => {
    expect(proposeBaseModel([{ model: model("huge", 70e9), estimate: estimate(0, false) }], "gpt-4o")).toBeNull();
  });
});
