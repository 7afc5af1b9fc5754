import { TunekitError } from "../core/errors.js";
import {
  EXECUTION_BACKEND_VERSION,
  type AttemptStatus,
  type ExecutionBackend,
  type LaunchRequest,
  type LeftoverAttempt,
  type RunHandle,
  type RunOutcome,
  type StopMode,
} from "../spec/execution-backend.js";
import type { WorkerEvent } from "../spec/worker-events.js";

/**
 * The server's execution backends behind the one interface: a launch goes to the backend its job
 * asked for (`tunekit.execution.backend`), or to the server's default (`execution.backend` in its
 * tunekit.yaml). Status, cancel and logs go to the backend that launched the attempt.
 */
export class BackendRouter implements ExecutionBackend {
  readonly version = EXECUTION_BACKEND_VERSION;
  private readonly launchedOn = new Map<string, ExecutionBackend>();

  constructor(
    private readonly backends: ReadonlyMap<string, ExecutionBackend>,
    /** the default backend's name */
    readonly name: string,
  ) {
    if (!backends.has(name)) throw new TunekitError(`the default execution backend \`${name}\` is not one of ${[...backends.keys()].join(", ")}`, { field: "execution.backend" });
  }

  /** the backends jobs may ask for */
  get names(): string[] {
    return [...this.backends.keys()];
  }

  /** The backend a job asking for `requested` runs on; a TunekitError naming the field when this server has none of that name. */
  resolve(requested: string | undefined): ExecutionBackend {
    const backend = this.backends.get(requested ?? this.name);
    if (!backend) {
      throw new TunekitError(`this server has no \`${requested}\` execution backend (it has ${this.names.map((name) => `\`${name}\``).join(", ")})`, {
        kind: "usage",
        code: "unknown_execution_backend",
        field: "tunekit.execution.backend",
        fix: `ask for one of ${this.names.join(", ")}, or start the server with \`execution.${requested}\` settings in its --config`,
      });
    }
    return backend;
  }

  launch(request: LaunchRequest, onEvent: (event: WorkerEvent) => void): RunHandle {
    const backend = this.resolve(request.backend);
    this.launchedOn.set(request.attemptId, backend);
    return backend.launch(request, onEvent);
  }

  async status(attemptId: string): Promise<AttemptStatus> {
    const backend = this.launchedOn.get(attemptId);
    return backend ? backend.status(attemptId) : { attemptId, state: "unknown", outcome: null };
  }

  async cancel(attemptId: string, mode: StopMode): Promise<RunOutcome | null> {
    return (await this.launchedOn.get(attemptId)?.cancel(attemptId, mode)) ?? null;
  }

  async logs(attemptId: string, options?: { tail?: number }): Promise<string[]> {
    return (await this.launchedOn.get(attemptId)?.logs(attemptId, options)) ?? [];
  }

  /** The leftover attempt in `runDir` on the backend named `backend` (recovery's LeftoverAttempts); null for a backend without them, or one this server does not have. */
  async leftoverAttemptOn(backend: string, runDir: string): Promise<LeftoverAttempt | null> {
    return (await this.backends.get(backend)?.leftoverAttempt?.(runDir)) ?? null;
  }

  async close(): Promise<void> {
    await Promise.all([...this.backends.values()].map((backend) => backend.close?.()));
  }
}
