/**
 * What `python -m tunekit_worker plan SPEC.json` answers (worker/tunekit_worker/plan.py): the run a
 * job spec would make, without training. Version 1.
 */
export interface WorkerPlan {
  v: 1;
  parameter_count: number;
  trainable_parameter_count: number;
  format: string;
  train_examples: number;
  valid_examples: number;
  train_tokens: number;
  /** tokens that carry the loss, per epoch */
  trained_tokens: number;
  truncated_examples: number;
  sequences: number;
  steps_per_epoch: number;
  total_steps: number;
  epochs: number;
  max_steps: number | null;
  resolved: {
    method: string;
    batch_size: number;
    micro_batch_size: number;
    learning_rate: number;
    max_seq_len: number;
    packing: boolean;
    device: string;
    precision: string;
    num_processes: number;
  };
  memory: {
    device: string;
    precision: string;
    peak_bytes: number;
    weights_bytes: number;
    optimizer_bytes: number;
    activation_bytes: number;
    available_bytes: number | null;
    basis: string;
  };
}

/**
 * Plans the worker job spec in `specFile` (a job.json: spec/run-folder.ts writeJobFile): the Python
 * worker's `plan` command, wired by the composition root.
 */
export type TrainingPlanner = (specFile: string, signal?: AbortSignal) => Promise<WorkerPlan>;
