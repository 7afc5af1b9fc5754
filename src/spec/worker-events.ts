import { z } from "zod";

/**
 * The worker protocol, version 1. The Python worker writes one JSON object per line on stdout;
 * human logs go to stderr. The Python mirror is `worker/tunekit_worker/events.py`; the contract
 * test feeds `test/fixtures/worker-events.v1.jsonl` to both sides.
 */
export const WORKER_PROTOCOL_VERSION = 1;

/** Exit codes are part of the contract. */
export const WorkerExitCode = {
  done: 0,
  failed: 1,
  /** the job spec is invalid: retrying will not help */
  badConfig: 2,
  /** SIGTERM/SIGINT received, checkpoint written, exited cleanly */
  cancelled: 3,
  /** loss became NaN or inf */
  diverged: 4,
} as const;

const base = { v: z.literal(WORKER_PROTOCOL_VERSION), time: z.number().optional().describe("unix seconds") };

export const startedEvent = z.object({
  ...base,
  type: z.literal("started"),
  run_dir: z.string(),
  /** the process the supervisor started (when the run forked from the fork server, that client; worker/tunekit_worker/forkserver.py) */
  pid: z.number().int(),
  device: z.string(),
  world_size: z.number().int().min(1),
  resumed_from: z.string().nullable(),
  /** where each rank runs (host name; node_id: the engine's node, Ray's node id or Slurm's node name, null locally), rank order */
  nodes: z.array(z.object({ rank: z.number().int().min(0), host: z.string(), node_id: z.string().nullable() })).optional(),
});

export const configEvent = z.object({
  ...base,
  type: z.literal("config"),
  /** the fully resolved job spec, `auto` values replaced (recorded once) */
  resolved: z.record(z.string(), z.unknown()),
});

export const dataEvent = z.object({
  ...base,
  type: z.literal("data"),
  train_examples: z.number().int(),
  valid_examples: z.number().int(),
  /** all tokens of the training examples after templating (before truncation) */
  train_tokens: z.number().int(),
  /** tokens that contribute to the loss, per epoch */
  trained_tokens: z.number().int(),
  truncated_examples: z.number().int(),
  sequences: z.number().int().describe("packed sequences (or examples when packing is off)"),
  steps_per_epoch: z.number().int(),
  total_steps: z.number().int(),
});

export const metricsEvent = z.object({
  ...base,
  type: z.literal("metrics"),
  step: z.number().int(),
  total_steps: z.number().int(),
  epoch: z.number(),
  train_loss: z.number(),
  train_mean_token_accuracy: z.number(),
  learning_rate: z.number(),
  grad_norm: z.number().nullable(),
  tokens_per_second: z.number(),
  trained_tokens_seen: z.number().int(),
  elapsed_s: z.number(),
});

export const evalEvent = z.object({
  ...base,
  type: z.literal("eval"),
  step: z.number().int(),
  valid_loss: z.number(),
  valid_mean_token_accuracy: z.number(),
  /** true when computed on the whole validation set (the final evaluation) */
  full: z.boolean(),
});

export const checkpointEvent = z.object({
  ...base,
  type: z.literal("checkpoint"),
  step: z.number().int(),
  epoch: z.number(),
  path: z.string(),
  metrics: z.record(z.string(), z.number()),
});

export const logEvent = z.object({
  ...base,
  type: z.literal("log"),
  level: z.enum(["debug", "info", "warn", "error"]),
  message: z.string(),
});

export const errorEvent = z.object({
  ...base,
  type: z.literal("error"),
  code: z.string().describe("bad_config | nan_loss | out_of_memory | internal ..."),
  message: z.string(),
  field: z.string().optional(),
});

export const cancelledEvent = z.object({
  ...base,
  type: z.literal("cancelled"),
  step: z.number().int(),
  checkpoint_path: z.string().nullable(),
});

export const doneEvent = z.object({
  ...base,
  type: z.literal("done"),
  adapter_path: z.string().nullable(),
  merged_path: z.string().nullable(),
  summary: z.object({
    trained_tokens: z.number().int(),
    train_runtime_s: z.number(),
    tokens_per_second: z.number(),
    steps: z.number().int(),
    final_train_loss: z.number().nullable(),
    final_valid_loss: z.number().nullable(),
    final_valid_mean_token_accuracy: z.number().nullable(),
  }),
});

export const workerEventSchema = z.discriminatedUnion("type", [
  startedEvent,
  configEvent,
  dataEvent,
  metricsEvent,
  evalEvent,
  checkpointEvent,
  logEvent,
  errorEvent,
  cancelledEvent,
  doneEvent,
]);

export type WorkerEvent = z.infer<typeof workerEventSchema>;
export type WorkerEventType = WorkerEvent["type"];
export type MetricsEvent = z.infer<typeof metricsEvent>;
export type DoneEvent = z.infer<typeof doneEvent>;

/** Parse one stdout line of the worker; throws a zod error naming the bad field. */
export function parseWorkerEvent(line: string): WorkerEvent {
  return workerEventSchema.parse(JSON.parse(line));
}
