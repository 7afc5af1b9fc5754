/**
 * How `serve` finds what a fine-tuned model id names, without knowing where jobs are kept (the job
 * store implements it; the composition root wires it). Version 1. Ids are OpenAI's:
 * `ft:<base>:<suffix>:<tail>` for a job's model, `ft:<base>:<suffix>:<tail>:ckpt-step-<n>` for one of
 * its checkpoints.
 */
export interface FineTunedModelRecord {
  id: string;
  jobId: string;
  /** the job's status: only a succeeded job's model is served; a checkpoint is served once written */
  status: string;
  /** the base model id the job trained (resolved through the server's catalog) */
  baseModel: string;
  /** the job's run folder (adapter/ or merged/ inside); null before it ran */
  runDir: string | null;
  /** set for a checkpoint id: the checkpoint folder (a PEFT adapter for LoRA runs) */
  checkpointPath: string | null;
}

export interface FineTunedModelLookup {
  /** the record of an id in the project (any project when projectId is null), or null */
  find(projectId: string | null, id: string): Promise<FineTunedModelRecord | null>;
}
