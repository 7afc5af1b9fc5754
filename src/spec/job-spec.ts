import type { DataConfig, TrainingConfig } from "../core/config-schema.js";

/**
 * The job spec the supervisor hands to the Python worker (as a JSON file whose path is the
 * worker's only argument). Version 1. Paths are absolute. `training.epochs` is resolved by the
 * toolkit's dataset-size rule before launch; `batch_size`, `micro_batch_size` and
 * `learning_rate` may still be `auto`: the worker resolves them from the model's size and
 * reports the resolved spec in its `config` event.
 */
export interface WorkerJobSpec {
  v: 1;
  run_dir: string;
  model: string;
  data: Omit<DataConfig, "test"> & { validation: string | null };
  training: Omit<TrainingConfig, "epochs"> & { epochs: number };
  /** checkpoint folder to resume from, or null for a fresh run */
  resume_from: string | null;
}
