import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { TunekitError } from "../../core/errors.js";
import type { RaySettings } from "../../core/config-schema.js";
import { CLUSTER_ENGINE_VERSION, type ClusterEngine, type ClusterJobStatus, type ClusterSubmission } from "../../spec/cluster-engine.js";

export interface RayEngineOptions {
  /** the interpreter of the job's driver and workers (execution.ray.python, else the venv `tunekit setup` built) */
  python: string;
  /** the folder holding `tunekit_worker` on every node (execution.ray.worker_root, else this checkout's worker/) */
  workerRoot: string;
  /** where the token is read from (token_env names the variable); default process.env */
  environment?: NodeJS.ProcessEnv;
  /** per-request timeout, default 15 s */
  requestTimeoutMs?: number;
}

/** A Ray Jobs API job's details (GET /api/jobs/{submission_id}), the fields Tunekit reads. */
interface RayJobDetails {
  submission_id: string | null;
  status: "PENDING" | "RUNNING" | "STOPPED" | "SUCCEEDED" | "FAILED";
  message: string | null;
  driver_exit_code?: number | null;
  driver_node_id?: string | null;
  driver_info?: { node_ip_address?: string } | null;
}

/** A node of the cluster as the dashboard's state API lists it (GET /api/v0/nodes). */
interface RayNode {
  node_id: string;
  node_ip: string;
  state: string;
  resources_total?: Record<string, number>;
}

const FIELD = "execution.ray";

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** a terminal's colour and cursor sequences (ESC [ ... letter) */
// eslint-disable-next-line no-control-regex
const ANSI_ESCAPE = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * Ray as a cluster engine: the Ray Jobs REST API on the head node's dashboard (port 8265; with
 * KubeRay the RayCluster's `<name>-head-svc` service). A submission is a Ray job whose
 * submission_id is the attempt's engine key, so the Jobs API itself refuses a resubmitted
 * attempt, and whose entrypoint is the worker's `ray-train` driver (worker/tunekit_worker/
 * ray_train.py): Ray Train's TorchTrainer on `num_workers` workers with the placement strategy.
 *
 * A Jobs API without auth runs whatever command it is sent, so an address off this machine is
 * refused without a token unless `allow_unauthenticated_remote` says the network is private.
 */
export class RayEngine implements ClusterEngine {
  readonly version = CLUSTER_ENGINE_VERSION;
  readonly name = "ray";
  private readonly base: URL;
  private readonly token: string | null;

  constructor(
    private readonly settings: RaySettings,
    private readonly options: RayEngineOptions,
  ) {
    try {
      this.base = new URL(settings.address.includes("://") ? settings.address : `http://${settings.address}`);
    } catch {
      throw new TunekitError(`\`${settings.address}\` is not a Ray Jobs API address`, {
        kind: "config",
        code: "bad_execution_settings",
        field: `${FIELD}.address`,
        fix: "give the head node's dashboard address, e.g. `http://10.0.0.5:8265` (KubeRay: `http://<cluster>-head-svc:8265`)",
      });
    }
    const environment = options.environment ?? process.env;
    this.token = settings.token_env ? environment[settings.token_env] || null : null;
  }

  async check(numWorkers: number): Promise<void> {
    this.refuseUnauthenticatedRemote();
    await this.request<{ ray_version?: string }>("GET", "/api/version");
    const nodes = (await this.nodes()).filter((node) => node.state === "ALIVE");
    const perWorker = this.settings.cpus_per_worker;
    const gpusPerWorker = this.settings.gpus_per_worker;
    // how many workers the alive nodes hold, each node on its own (a worker never spans nodes)
    const slots = nodes.map((node) => {
      const cpus = Math.floor((node.resources_total?.CPU ?? 0) / perWorker);
      const gpus = gpusPerWorker > 0 ? Math.floor((node.resources_total?.GPU ?? 0) / gpusPerWorker) : Number.POSITIVE_INFINITY;
      return Math.min(cpus, gpus);
    });
    const strict = this.settings.placement_strategy === "STRICT_SPREAD";
    const capacity = strict ? slots.filter((count) => count >= 1).length : slots.reduce((sum, count) => sum + count, 0);
    if (capacity < numWorkers) {
      const resources = `${perWorker} CPU${gpusPerWorker > 0 ? ` and ${gpusPerWorker} GPU` : ""} per worker`;
      throw new TunekitError(
        `the Ray cluster at ${this.base.origin} has room for ${capacity} of the ${numWorkers} workers asked for (${nodes.length} alive node${nodes.length === 1 ? "" : "s"}, ${resources}${strict ? ", STRICT_SPREAD: one per node" : ""})`,
        {
          kind: "config",
          code: "ray_not_enough_resources",
          field: `${FIELD}.num_workers`,
          fix: `lower execution.ray.num_workers (or cpus_per_worker/gpus_per_worker) to what the cluster has, or add nodes${strict ? ", or use placement_strategy SPREAD" : ""}`,
        },
      );
    }
  }

  /** every request passes here first: nothing is sent to a remote Jobs API without a token unless the settings allow it */
  private refuseUnauthenticatedRemote(): void {
    if (!this.token && !isLoopback(this.base.hostname) && !this.settings.allow_unauthenticated_remote) {
      throw new TunekitError(
        `refusing to submit to the Ray cluster at ${this.base.origin} without a token: a Ray Jobs API without auth runs any command anyone on the network sends it`,
        {
          kind: "config",
          code: "ray_token_required",
          field: `${FIELD}.token_env`,
          fix: `start the cluster with token auth (RAY_AUTH_MODE=token) and put its token in $${this.settings.token_env ?? "RAY_AUTH_TOKEN"}, or set execution.ray.allow_unauthenticated_remote: true if the network is yours alone`,
        },
      );
    }
  }

  async submit(submission: ClusterSubmission): Promise<string> {
    const settings = this.settings;
    const entrypoint = [
      settings.python ?? this.options.python,
      "-m",
      "tunekit_worker",
      "ray-train",
      submission.specFile,
      "--num-workers",
      String(submission.numWorkers),
      "--cpus-per-worker",
      String(settings.cpus_per_worker),
      "--gpus-per-worker",
      String(settings.gpus_per_worker),
      "--placement-strategy",
      settings.placement_strategy,
    ]
      .map(shellQuote)
      .join(" ");
    const envVars: Record<string, string> = { PYTHONPATH: settings.worker_root ?? this.options.workerRoot, PYTHONUNBUFFERED: "1", ...settings.env };
    if (settings.socket_ifname) {
      envVars.GLOO_SOCKET_IFNAME = settings.socket_ifname;
      envVars.NCCL_SOCKET_IFNAME = settings.socket_ifname;
    }
    try {
      const answer = await this.request<{ submission_id?: string; job_id?: string }>("POST", "/api/jobs/", {
        entrypoint,
        submission_id: submission.engineKey,
        runtime_env: { env_vars: envVars },
        metadata: { tunekit_job: submission.jobId, tunekit_attempt: submission.attemptId },
        // the driver only waits on the trainer; the workers reserve the CPUs
        entrypoint_num_cpus: 0,
      });
      return answer.submission_id ?? submission.engineKey;
    } catch (error) {
      if (error instanceof TunekitError && error.kind === "conflict") {
        throw new TunekitError(`the Ray cluster already has a job ${submission.engineKey}: attempt ${submission.attemptId} was submitted before`, {
          kind: "conflict",
          code: "attempt_already_submitted",
          field: "submission_id",
          fix: "follow the existing job (find) instead of submitting the attempt again",
          cause: error,
        });
      }
      throw error;
    }
  }

  async find(engineKey: string): Promise<string | null> {
    const job = await this.job(engineKey);
    return job ? (job.submission_id ?? engineKey) : null;
  }

  async status(engineJobId: string): Promise<ClusterJobStatus> {
    const job = await this.job(engineJobId);
    if (!job) return { state: "unknown", message: `no Ray job ${engineJobId}`, exitCode: null, nodes: [] };
    const state = ({ PENDING: "pending", RUNNING: "running", SUCCEEDED: "succeeded", FAILED: "failed", STOPPED: "stopped" } as const)[job.status] ?? "unknown";
    return {
      state,
      message: job.message || null,
      exitCode: typeof job.driver_exit_code === "number" ? job.driver_exit_code : null,
      nodes: job.driver_node_id ? [job.driver_node_id] : [],
    };
  }

  async stop(engineJobId: string): Promise<void> {
    await this.request("POST", `/api/jobs/${encodeURIComponent(engineJobId)}/stop`);
  }

  async logs(engineJobId: string, tail: number): Promise<string[]> {
    const answer = await this.request<{ logs?: string }>("GET", `/api/jobs/${encodeURIComponent(engineJobId)}/logs`);
    // Ray colours each line's `(RayTrainWorker pid=..., ip=...)` prefix for a terminal
    return (answer.logs ?? "")
      .replace(ANSI_ESCAPE, "")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .slice(-tail);
  }

  /** The cluster's nodes (the dashboard's state API). */
  async nodes(): Promise<RayNode[]> {
    const answer = await this.request<{ data?: { result?: { result?: RayNode[] } } }>("GET", "/api/v0/nodes?limit=1000&detail=true");
    return answer.data?.result?.result ?? [];
  }

  private async job(id: string): Promise<RayJobDetails | null> {
    try {
      return await this.request<RayJobDetails>("GET", `/api/jobs/${encodeURIComponent(id)}`);
    } catch (error) {
      if (error instanceof TunekitError && error.kind === "not_found") return null;
      throw error;
    }
  }

  private async request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    this.refuseUnauthenticatedRemote();
    const url = new URL(path, this.base);
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response: { status: number; text: string };
    try {
      response = await sendWithRetries(url, method, headers, body === undefined ? undefined : JSON.stringify(body), this.options.requestTimeoutMs ?? 15_000);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new TunekitError(`the Ray Jobs API at ${this.base.origin} did not answer (${code ?? (error as Error).message})`, {
        kind: "config",
        code: "ray_unreachable",
        field: `${FIELD}.address`,
        fix: "check that the head node runs (`ray status` there) and that its dashboard port (8265 by default; KubeRay: the `<cluster>-head-svc` service) is reachable from this machine",
        cause: error,
      });
    }
    const text = response.text;
    if (response.status === 401 || response.status === 403) {
      throw new TunekitError(`the Ray cluster at ${this.base.origin} refused the request (HTTP ${response.status}): ${text.slice(0, 200)}`, {
        kind: "config",
        code: "ray_unauthorized",
        field: `${FIELD}.token_env`,
        fix: `put the cluster's auth token in $${this.settings.token_env ?? "RAY_AUTH_TOKEN"} (execution.ray.token_env names the variable)`,
      });
    }
    if (response.status === 404) throw new TunekitError(`not found: ${method} ${url.pathname}`, { kind: "not_found", code: "ray_not_found" });
    if (/submission_id \S+ already exists/.test(text)) {
      throw new TunekitError(`the Ray Jobs API already has that submission_id (${method} ${url.pathname})`, { kind: "conflict", code: "attempt_already_submitted" });
    }
    if (response.status < 200 || response.status >= 300) {
      throw new TunekitError(`the Ray Jobs API answered ${method} ${url.pathname} with HTTP ${response.status}: ${text.slice(0, 500)}`, {
        kind: "worker",
        code: "ray_api_error",
        field: `${FIELD}.address`,
      });
    }
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new TunekitError(`the Ray Jobs API at ${this.base.origin} answered ${method} ${url.pathname} with something other than JSON: ${text.slice(0, 200)}`, {
        kind: "config",
        code: "ray_api_error",
        field: `${FIELD}.address`,
        fix: "point execution.ray.address at the head node's dashboard port (8265 by default), not the GCS port (6379)",
      });
    }
  }
}

/** A reset or refused connection is retried twice for a GET (a dashboard that is starting or restarting); a POST never is. */
async function sendWithRetries(url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await send(url, method, headers, body, timeoutMs);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (method !== "GET" || attempt >= 2 || (code !== "ECONNRESET" && code !== "ECONNREFUSED")) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
    }
  }
}

/**
 * One HTTP request with node:http(s). Not fetch: undici sends `Sec-Fetch-Mode`, and Ray's dashboard
 * refuses a POST that carries it as browser traffic (HTTP 405, its guard against cross-site
 * requests to an API that runs commands).
 */
function send(url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === "https:" ? httpsRequest : httpRequest)(
      url,
      { method, headers: body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) }, timeout: timeoutMs },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })));
    request.on("error", reject);
    request.end(body);
  });
}

/** One argument of the Jobs API's entrypoint, which Ray runs through a shell. */
function shellQuote(argument: string): string {
  return /^[A-Za-z0-9_\-./=:@]+$/.test(argument) ? argument : `'${argument.replace(/'/g, `'\\''`)}'`;
}
