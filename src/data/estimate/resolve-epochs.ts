import { TunekitError } from "../../core/errors.js";

// The OpenAI cookbook's default-epochs heuristic (Chat_finetuning_data_prep.ipynb), which
// mirrors what the hosted API picks when n_epochs is "auto".
export const TARGET_EPOCHS = 3;
export const MIN_TARGET_EXAMPLES = 100;
export const MAX_TARGET_EXAMPLES = 25000;
export const MIN_DEFAULT_EPOCHS = 1;
export const MAX_DEFAULT_EPOCHS = 25;

/**
 * Epochs to train: `requested` when it is a number, else the cookbook rule:
 *   n_epochs = 3
 *   if n * 3 < 100:     n_epochs = min(25, 100 // n)
 *   elif n * 3 > 25000: n_epochs = max(1, 25000 // n)
 */
export function resolveEpochs(exampleCount: number, requested: "auto" | number = "auto"): number {
  if (requested !== "auto") {
    if (!Number.isInteger(requested) || requested < 1) {
      throw new TunekitError(`\`training.epochs\` must be \`auto\` or a whole number >= 1, got ${requested}`, {
        kind: "config",
        code: "invalid_epochs",
        field: "training.epochs",
        fix: "Set `training.epochs` (or --epochs) to `auto` or a whole number such as 3.",
      });
    }
    return requested;
  }
  if (!Number.isInteger(exampleCount) || exampleCount < 1) {
    throw new TunekitError("The dataset has no usable examples, so no epoch count can be chosen", {
      kind: "data",
      code: "empty_dataset",
      field: "data.train",
      fix: "Check the training file with `tunekit data validate`; it needs at least one valid example.",
    });
  }
  if (exampleCount * TARGET_EPOCHS < MIN_TARGET_EXAMPLES) {
    return Math.min(MAX_DEFAULT_EPOCHS, Math.floor(MIN_TARGET_EXAMPLES / exampleCount));
  }
  if (exampleCount * TARGET_EPOCHS > MAX_TARGET_EXAMPLES) {
    return Math.max(MIN_DEFAULT_EPOCHS, Math.floor(MAX_TARGET_EXAMPLES / exampleCount));
  }
  return TARGET_EPOCHS;
}

/** Parse `--epochs auto|N`. */
export function parseEpochsOption(value: string): "auto" | number {
  if (value === "auto") return "auto";
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new TunekitError(`\`--epochs\` must be \`auto\` or a whole number >= 1, got \`${value}\``, {
      kind: "usage",
      code: "invalid_epochs",
      field: "--epochs",
      fix: "Pass --epochs auto or --epochs 3.",
    });
  }
  return parsed;
}
