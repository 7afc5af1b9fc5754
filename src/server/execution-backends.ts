import { executionSchema, type ExecutionConfig } from "../core/config-schema.js";
import { BackendRouter } from "../jobs/backend-router.js";
import { clusterBackendOptions, ClusterExecutionBackend } from "../providers/cluster/cluster-execution-backend.js";
import { LocalExecutionBackend } from "../providers/local/local-execution-backend.js";
import { venvPath, venvPython, workerRoot } from "../providers/local/worker-environment.js";
import { RayEngine } from "../providers/ray/ray-engine.js";
import { SlurmEngine } from "../providers/slurm/slurm-engine.js";
import type { ExecutionBackend } from "../spec/execution-backend.js";

export interface ServerExecution {
  /** every backend behind one router; the default is `execution.backend` */
  backend: BackendRouter;
  /** the backends jobs may ask for (`tunekit.execution.backend`) */
  names: string[];
  /** retries of a retryable failed attempt, per backend (cluster backends: execution.max_retries; local: none) */
  maxRetries: Record<string, number>;
  /** training processes of a launch on a backend (Ray workers, Slurm nodes × processes per node); null: the job's own num_processes */
  processesOf: (backend: string | undefined) => number | null;
}

/**
 * The server's execution backends from its tunekit.yaml `execution` section: `local` (the worker
 * on this machine), `ray` (the Ray Jobs API at execution.ray.address) and `slurm` (sbatch, locally
 * or over SSH). None of them connects before a job asks for it; a cluster's settings are checked
 * against the live cluster when an attempt is launched, and a bad one fails that job with the
 * setting named.
 */
export function buildExecutionBackends(execution: ExecutionConfig = executionSchema.parse({}), options: { forkServer?: boolean; local?: ExecutionBackend } = {}): ServerExecution {
  const python = venvPython(venvPath());
  const root = workerRoot();
  const { ray, slurm } = execution;
  const backends = new Map<string, ExecutionBackend>([
    // a long-lived server forks its runs from one worker fork server (torch imported once)
    ["local", options.local ?? new LocalExecutionBackend({ forkServer: options.forkServer ?? true })],
    ["ray", new ClusterExecutionBackend(new RayEngine(ray, { python, workerRoot: root }), clusterBackendOptions(ray))],
    ["slurm", new ClusterExecutionBackend(new SlurmEngine(slurm, { python, workerRoot: root }), clusterBackendOptions(slurm))],
  ]);
  const router = new BackendRouter(backends, execution.backend);
  const processes: Record<string, number> = { ray: ray.num_workers, slurm: slurm.nodes * slurm.processes_per_node };
  return {
    backend: router,
    names: router.names,
    maxRetries: { local: 0, ray: execution.max_retries, slurm: execution.max_retries },
    processesOf: (backend) => processes[backend ?? execution.backend] ?? null,
  };
}
