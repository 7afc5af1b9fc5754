import type { FineTuningJobCreateParams } from "../../../spec/openai-wire.js";
import type { OpenAiJobSettings } from "./openai-job-settings.js";

/** One row of the printed table: what a setting was on OpenAI, what the new job uses, and why. */
export interface SettingChange {
  setting: string;
  openai: string;
  tunekit: string;
  changed: boolean;
  note: string;
}

export interface MappedJob {
  /** the body of POST /v1/fine_tuning/jobs on the Tunekit server */
  params: FineTuningJobCreateParams;
  changes: SettingChange[];
}

export interface MapTarget {
  model: string;
  trainingFile: string;
  validationFile: string | null;
  /** carry OpenAI's learning-rate multiplier over instead of Tunekit's `auto` */
  keepLearningRateMultiplier: boolean;
  /** why the base model was picked (the proposal's reason) */
  modelReason: string;
  /** set when the validation file is a held-out split the migration made */
  heldOutNote: string | null;
}

const show = (value: unknown): string => (value === null || value === undefined ? "none" : String(value));

/**
 * The Tunekit job for an OpenAI one. Epochs, batch size, seed, suffix and method carry over as
 * they are. The learning-rate multiplier does not by default: OpenAI's scales OpenAI's own
 * (unpublished) base rate for a full fine-tune of its model, and Tunekit's scales the worker's
 * `auto` rate for the method and model size (2e-4 for LoRA under 1B), so the same number means a
 * different step size; `auto` lets Tunekit pick its rate.
 */
export function mapJobSettings(settings: OpenAiJobSettings, target: MapTarget): MappedJob {
  const multiplier = target.keepLearningRateMultiplier ? settings.learningRateMultiplier : "auto";
  const hyperparameters: Record<string, number | "auto"> = { n_epochs: settings.nEpochs, batch_size: settings.batchSize, learning_rate_multiplier: multiplier };
  if (settings.method === "dpo") hyperparameters.beta = settings.beta ?? "auto";
  const params: FineTuningJobCreateParams = {
    model: target.model,
    training_file: target.trainingFile,
    ...(target.validationFile !== null && { validation_file: target.validationFile }),
    method: settings.method === "dpo" ? { type: "dpo", dpo: { hyperparameters } } : { type: "supervised", supervised: { hyperparameters } },
    ...(settings.suffix !== null && { suffix: settings.suffix }),
    ...(settings.seed !== null && { seed: settings.seed }),
    metadata: {
      ...(settings.metadata ?? {}),
      migrated_from: settings.jobId,
      migrated_from_model: settings.fineTunedModel ?? settings.baseModel,
    },
  };
  const changes: SettingChange[] = [
    { setting: "base model", openai: settings.baseModel, tunekit: target.model, changed: true, note: target.modelReason },
    {
      setting: "method",
      openai: settings.method,
      tunekit: settings.method === "dpo" ? "dpo (LoRA adapter)" : "supervised (LoRA adapter)",
      changed: true,
      note: "OpenAI trains its model whole; Tunekit trains a LoRA adapter by default (set `tunekit.training.method: full` for a full fine-tune)",
    },
    { setting: "n_epochs", openai: show(settings.nEpochs), tunekit: show(settings.nEpochs), changed: false, note: "" },
    { setting: "batch_size", openai: show(settings.batchSize), tunekit: show(settings.batchSize), changed: false, note: "" },
    {
      setting: "learning_rate_multiplier",
      openai: show(settings.learningRateMultiplier),
      tunekit: show(multiplier),
      changed: multiplier !== settings.learningRateMultiplier,
      note:
        multiplier === settings.learningRateMultiplier
          ? "kept (--keep-lr-multiplier): it now scales Tunekit's base rate"
          : "OpenAI's multiplier scales OpenAI's unpublished base rate; Tunekit's `auto` picks its own (pass --keep-lr-multiplier to carry it)",
    },
    ...(settings.method === "dpo" ? [{ setting: "beta", openai: show(settings.beta), tunekit: show(settings.beta ?? "auto"), changed: false, note: "" }] : []),
    { setting: "suffix", openai: show(settings.suffix), tunekit: show(settings.suffix), changed: false, note: "" },
    { setting: "seed", openai: show(settings.seed), tunekit: show(settings.seed), changed: false, note: "" },
    {
      setting: "validation file",
      openai: show(settings.validationFile),
      tunekit: target.validationFile === null ? "none" : target.heldOutNote ? "held-out split" : "the same data",
      changed: target.heldOutNote !== null,
      note: target.heldOutNote ?? "",
    },
  ];
  return { params, changes };
}

/** The table as printed by `tunekit migrate openai`. */
export function formatChanges(changes: readonly SettingChange[]): string {
  const widths = [
    Math.max(7, ...changes.map((row) => row.setting.length)),
    Math.max(6, ...changes.map((row) => row.openai.length)),
    Math.max(7, ...changes.map((row) => row.tunekit.length)),
  ] as const;
  const line = (cells: readonly string[], mark: string) =>
    `${mark} ${cells[0]!.padEnd(widths[0])}  ${cells[1]!.padEnd(widths[1])}  ${cells[2]!.padEnd(widths[2])}  ${cells[3]}`.trimEnd();
  return [line(["setting", "OpenAI", "Tunekit", "why"], " "), ...changes.map((row) => line([row.setting, row.openai, row.tunekit, row.note], row.changed ? "*" : " "))].join("\n");
}
