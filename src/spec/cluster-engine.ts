/**
 * A cluster engine that Tunekit submits training to (Ray's Jobs API, Slurm's sbatch), version 1.
 * The engine is the scheduler: Tunekit submits, polls, stops and reads logs, and never places work
 * itself. providers/cluster's ClusterExecutionBackend turns an engine into an ExecutionBackend
 * (spec/execution-backend.ts): it tails the run folder's event journal on shared storage for the
 * events, asks for a graceful stop through the run folder's stop request, and polls the engine for
 * the attempt's state, so no lease or connection is held for the hours of training.
 */
export const CLUSTER_ENGINE_VERSION = 1;

export interface ClusterSubmission {
  /** `<job id>/<n>` */
  attemptId: string;
  jobId: string;
  /**
   * the engine's idempotency key for this attempt, derived from the attempt id with characters the
   * engine accepts (`tunekit-ftjob-abc-2`): Ray's submission_id, Slurm's job name
   */
  engineKey: string;
  /** on storage every node reads and writes: job.json, the data, checkpoints, outputs, the journal */
  runDir: string;
  specFile: string;
  /** training processes: Ray Train workers, or Slurm nodes (one torchrun per node) */
  numWorkers: number;
}

export type ClusterJobState = "pending" | "running" | "succeeded" | "failed" | "stopped" | "unknown";

export interface ClusterJobStatus {
  state: ClusterJobState;
  /** the engine's own words for the state (Ray's `message`, Slurm's state and reason), null when none */
  message: string | null;
  /** the worker's exit code, when the engine reports one (Slurm's exit_code; Ray: null) */
  exitCode: number | null;
  /** the nodes the engine placed the job on (Slurm's nodelist, Ray's driver node), when it says */
  nodes: string[];
}

export interface ClusterEngine {
  readonly version: typeof CLUSTER_ENGINE_VERSION;
  /** `ray`, `slurm` */
  readonly name: string;
  /**
   * Check the settings against the live cluster before a submission: reachable address, token where
   * the cluster needs one, the partition, enough nodes for `numWorkers`. Throws a TunekitError whose
   * `field` names the setting (`execution.ray.address`, `execution.slurm.partition`, ...) and whose
   * `fix` says what to change.
   */
  check(numWorkers: number): Promise<void>;
  /**
   * Submit one attempt; resolves to the engine's job id (Ray: the submission_id; Slurm: the job id
   * sbatch printed). Rejects with a TunekitError of kind `conflict` when the engine already has a
   * job under `submission.engineKey` (a resubmitted attempt).
   */
  submit(submission: ClusterSubmission): Promise<string>;
  /** the engine job id of a submission made earlier under `engineKey` (a restarted server finds its attempts), null when none */
  find(engineKey: string): Promise<string | null>;
  status(engineJobId: string): Promise<ClusterJobStatus>;
  /** stop the job on the engine (Ray: POST stop; Slurm: scancel); a job that already ended is not an error */
  stop(engineJobId: string): Promise<void>;
  /** the job's log lines (driver/batch output), the last `tail` of them */
  logs(engineJobId: string, tail: number): Promise<string[]>;
  /**
   * Where the engine can read its log by position (Slurm: the job's output file on shared storage):
   * up to `limit` bytes of it from byte `offset` on, so that a mirror of a long job's log reads
   * only what is new. Engines without it (Ray's Jobs API returns the whole log) are read through `logs`.
   */
  readLog?(engineJobId: string, offset: number, limit: number): Promise<Buffer>;
  close?(): Promise<void>;
}
