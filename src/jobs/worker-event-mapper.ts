import type { CheckpointMetrics } from "../spec/openai-wire.js";
import type { WorkerEvent } from "../spec/worker-events.js";
import type { NewJobEvent } from "./job-store.js";
import { baseLearningRate as baseLearningRateOf } from "./worker-job-spec.js";

/** What one worker event means for the job: an event to show, a checkpoint to record, fields to update. */
export interface MappedWorkerEvent {
  event: NewJobEvent | null;
  checkpoint: { step: number; path: string; metrics: CheckpointMetrics } | null;
  resolvedHyperparameters: { batch_size?: number; learning_rate_multiplier?: number; n_epochs?: number } | null;
  /** total steps, known from the `data` event (for progress and estimated_finish) */
  totalSteps: number | null;
}

const NONE: MappedWorkerEvent = { event: null, checkpoint: null, resolvedHyperparameters: null, totalSteps: null };

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/** Keep only the metric names OpenAI's checkpoint object has. */
export function checkpointMetrics(step: number, metrics: Record<string, number>): CheckpointMetrics {
  const keys: Array<keyof CheckpointMetrics> = [
    "train_loss",
    "train_mean_token_accuracy",
    "valid_loss",
    "valid_mean_token_accuracy",
    "full_valid_loss",
    "full_valid_mean_token_accuracy",
  ];
  const result: CheckpointMetrics = { step };
  for (const key of keys) {
    const value = metrics[key];
    if (typeof value === "number" && Number.isFinite(value)) result[key] = value;
  }
  return result;
}

/**
 * The `learning_rate_multiplier` a resolved config stands for: the worker's own figure, or (a
 * journal from a worker that did not report it) the learning rate over the `auto` rate of the
 * method and model size; `baseLearningRate` only when the event has no parameter count.
 */
function resolvedMultiplier(training: Record<string, unknown>, parameterCount: unknown, fallbackBase: number | null): number | null {
  if (typeof training.learning_rate_multiplier === "number") return training.learning_rate_multiplier;
  if (typeof training.learning_rate !== "number") return null;
  if (typeof parameterCount === "number") return training.learning_rate / baseLearningRateOf(String(training.method ?? "lora"), parameterCount);
  return fallbackBase ? training.learning_rate / fallbackBase : null;
}

/** Translate a worker protocol v1 event into job events, checkpoints and metrics (OpenAI's wording where it has one). */
export function mapWorkerEvent(event: WorkerEvent, baseLearningRate: number | null = null): MappedWorkerEvent {
  switch (event.type) {
    case "started":
      return {
        ...NONE,
        event: {
          message: event.resumed_from
            ? `Resumed training from checkpoint on ${event.device}`
            : `Training started on ${event.device}${event.world_size > 1 ? ` with ${event.world_size} processes` : ""}`,
          data: { device: event.device, world_size: event.world_size, resumed_from: event.resumed_from },
        },
      };
    case "config": {
      const training = (event.resolved.training ?? {}) as Record<string, unknown>;
      const resolved: NonNullable<MappedWorkerEvent["resolvedHyperparameters"]> = {};
      if (typeof training.batch_size === "number") resolved.batch_size = training.batch_size;
      if (typeof training.epochs === "number") resolved.n_epochs = training.epochs;
      const multiplier = resolvedMultiplier(training, event.resolved.parameter_count, baseLearningRate);
      if (multiplier !== null) resolved.learning_rate_multiplier = round(multiplier);
      return {
        ...NONE,
        resolvedHyperparameters: resolved,
        event: {
          message: `Hyperparameters: ${
            Object.entries(resolved)
              .map(([key, value]) => `${key}=${value}`)
              .join(", ") || "resolved"
          }`,
          data: { resolved: event.resolved },
        },
      };
    }
    case "data":
      return {
        ...NONE,
        totalSteps: event.total_steps,
        event: {
          message: `Training on ${event.train_examples} examples (${event.trained_tokens} trained tokens per epoch${event.truncated_examples > 0 ? `, ${event.truncated_examples} truncated` : ""}), ${event.total_steps} steps`,
          data: { ...event, v: undefined, type: undefined },
        },
      };
    case "metrics":
      return {
        ...NONE,
        event: {
          type: "metrics",
          message: `Step ${event.step}/${event.total_steps}: training loss=${event.train_loss.toFixed(4)}`,
          data: {
            step: event.step,
            total_steps: event.total_steps,
            train_loss: event.train_loss,
            train_mean_token_accuracy: event.train_mean_token_accuracy,
            learning_rate: event.learning_rate,
            epoch: event.epoch,
            tokens_per_second: event.tokens_per_second,
          },
        },
      };
    case "eval": {
      const prefix = event.full ? "full_valid" : "valid";
      return {
        ...NONE,
        event: {
          type: "metrics",
          message: `Step ${event.step}: ${event.full ? "full validation" : "validation"} loss=${event.valid_loss.toFixed(4)}`,
          data: { step: event.step, [`${prefix}_loss`]: event.valid_loss, [`${prefix}_mean_token_accuracy`]: event.valid_mean_token_accuracy },
        },
      };
    }
    case "checkpoint":
      return {
        ...NONE,
        checkpoint: { step: event.step, path: event.path, metrics: checkpointMetrics(event.step, event.metrics) },
        event: { message: `Checkpoint created at step ${event.step}`, data: { step: event.step } },
      };
    case "log":
      if (event.level === "debug") return NONE;
      return { ...NONE, event: { level: event.level === "warn" ? "warn" : event.level === "error" ? "error" : "info", message: event.message } };
    case "error":
      return { ...NONE, event: { level: "error", message: event.message, data: { code: event.code, ...(event.field ? { field: event.field } : {}) } } };
    case "cancelled":
      return {
        ...NONE,
        event: { message: `Worker stopped at step ${event.step}${event.checkpoint_path ? " after writing a checkpoint" : " without a checkpoint"}`, data: { step: event.step } },
      };
    case "done":
      return {
        ...NONE,
        event: {
          message: `Training finished: ${event.summary.steps} steps, ${event.summary.trained_tokens} trained tokens${event.summary.final_train_loss !== null ? `, final training loss ${event.summary.final_train_loss.toFixed(4)}` : ""}`,
          data: { ...event.summary },
        },
      };
  }
}
