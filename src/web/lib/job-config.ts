import type { FineTuningJob, JobDetail } from "./wire.js";

/**
 * The run config that makes a job again ("Duplicate"): its model, files, suffix and seed, its
 * method and hyperparameters as the job reports them (resolved values once it ran, so the copy
 * trains the same), and its own run-config settings (the request's `tunekit` extension).
 */
export function jobToConfig(detail: JobDetail): Array<[string[], unknown]> {
  const { job, options } = detail;
  const entries: Array<[string[], unknown]> = [
    [["model"], job.model],
    [["data", "train"], job.training_file],
  ];
  if (job.validation_file) entries.push([["data", "validation"], job.validation_file]);
  if (job.user_provided_suffix) entries.push([["output", "suffix"], job.user_provided_suffix]);
  const type = job.method.type;
  if (type === "dpo") entries.push([["training", "method"], "dpo"]);
  const hyperparameters = (type === "dpo" ? job.method.dpo?.hyperparameters : job.method.supervised?.hyperparameters) ?? job.hyperparameters;
  const mapped: Record<string, string> = { n_epochs: "epochs", batch_size: "batch_size", learning_rate_multiplier: "learning_rate_multiplier", beta: "dpo_beta" };
  for (const [key, value] of Object.entries(hyperparameters ?? {})) {
    const field = mapped[key];
    if (field && value !== undefined && value !== null && value !== "auto") entries.push([["training", field], value]);
  }
  for (const [key, value] of Object.entries(options.training)) entries.push([["training", key], value]);
  for (const [key, value] of Object.entries(options.data)) entries.push([["data", key], value]);
  entries.push([["training", "seed"], job.seed]);
  return entries;
}

/** The run config that makes a hosted job again: its provider, model and this server's files (from the job's metadata). */
export function hostedJobToConfig(provider: string, job: FineTuningJob): Array<[string[], unknown]> {
  const entries: Array<[string[], unknown]> = [
    [["provider"], provider],
    [["model"], job.model],
  ];
  const training = job.metadata?.tunekit_training_file;
  const validation = job.metadata?.tunekit_validation_file;
  if (training) entries.push([["data", "train"], training]);
  if (validation) entries.push([["data", "validation"], validation]);
  if (job.user_provided_suffix) entries.push([["output", "suffix"], job.user_provided_suffix]);
  const hyperparameters = (job.method?.type === "dpo" ? job.method.dpo?.hyperparameters : job.method?.supervised?.hyperparameters) ?? job.hyperparameters;
  const mapped: Record<string, string> = { n_epochs: "epochs", batch_size: "batch_size", learning_rate_multiplier: "learning_rate_multiplier", beta: "dpo_beta" };
  if (job.method?.type === "dpo") entries.push([["training", "method"], "dpo"]);
  for (const [key, value] of Object.entries(hyperparameters ?? {})) {
    const field = mapped[key];
    if (field && value !== undefined && value !== null && value !== "auto") entries.push([["training", field], value]);
  }
  entries.push([["training", "seed"], job.seed]);
  return entries;
}
