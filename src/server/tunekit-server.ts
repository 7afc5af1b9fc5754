import { join, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import type { ExecutionConfig, TrainingConfig } from "../core/config-schema.js";
import { TunekitError } from "../core/errors.js";
import { ApiKeyStore, DEFAULT_PROJECT } from "../jobs/api-key-store.js";
import { FileStore } from "../jobs/file-store.js";
import { JobOutcomes } from "../jobs/job-outcome.js";
import { JobRecovery, type RecoveryReport } from "../jobs/job-recovery.js";
import { JobService } from "../jobs/job-service.js";
import { JobStore } from "../jobs/job-store.js";
import { ModelCatalog } from "../jobs/model-catalog.js";
import { RunPreparer } from "../jobs/run-preparer.js";
import { Scheduler } from "../jobs/scheduler.js";
import { openDatabase, type StoreDatabase } from "../jobs/store/database.js";
import { isLoopbackHost } from "./auth.js";
import { buildServer } from "./build-server.js";
import { buildExecutionBackends } from "./execution-backends.js";
import type { Services } from "./route-context.js";
import { createChatService, type ServeOptions } from "../serve/create-chat-service.js";
import { FileWorkbench } from "../jobs/file-workbench.js";
import { HostedJobs } from "../jobs/hosted-jobs.js";
import type { HostedProvider } from "../spec/hosted-provider.js";
import { RUN_FILES } from "../spec/run-folder.js";
import { JobInsight } from "../jobs/job-insight.js";
import { TrainingEstimator } from "../jobs/training-estimate.js";
import { bundledModel } from "../providers/local/bundled-model.js";
import { PythonWorkerBridge, workerProcesses, type PythonWorkerOptions } from "../providers/local/python-worker.js";
import type { ExecutionBackend } from "../spec/execution-backend.js";
import { packageRoot } from "../providers/local/worker-environment.js";
import type { TrainingPlanner } from "../spec/worker-plan.js";

export interface ServerOptions {
  host?: string;
  /** 0 picks a free port */
  port?: number;
  dataDir?: string;
  /** serve every request as the `default` project without keys (loopback hosts only) */
  noAuth?: boolean;
  maxUploadMb?: number;
  /** base models by path or hub id; none: the bundled demo model when the venv has it (unless `bundledModel: false`) */
  models?: string[];
  bundledModel?: boolean;
  /** the built web UI (default <package>/dist/web); null serves the API only */
  webRoot?: string | null;
  /** plans jobs for estimates (default: the Python worker's `plan` command) */
  planner?: TrainingPlanner;
  /** hosted fine-tuning providers offered next to local training (`--hosted openai`) */
  hosted?: HostedProvider[];
  /** folder of base models (default <data-dir>/models) */
  modelsDir?: string;
  maxConcurrentJobs?: number;
  heartbeatMs?: number;
  staleHeartbeatMs?: number;
  /** where jobs' workers run (default: the local execution backend, Tunekit's Python worker on this machine) */
  backend?: ExecutionBackend;
  /** the execution backends (tunekit.yaml `execution`: local, ray, slurm and their settings); ignored when `backend` is given */
  execution?: ExecutionConfig;
  /** the default backend forks single-process runs from one worker fork server (default true; `tunekit server --no-fork-server`) */
  forkServer?: boolean;
  trainingDefaults?: Partial<TrainingConfig>;
  maxSeqLen?: number;
  logger?: boolean;
  /** chat completions: engine, parallelism, queue bound (src/serve); `worker`: the Python and package folder it runs the worker with (default: the `tunekit setup` venv) */
  serve?: ServeOptions & { worker?: Pick<PythonWorkerOptions, "python" | "workerRoot"> };
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  services: Services;
  scheduler: Scheduler;
  database: StoreDatabase;
  recovered: RecoveryReport & { revalidated: string[] };
  close(): Promise<void>;
}

/** Open the store, recover jobs a dead server left behind, start the scheduler, listen. */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  if (options.noAuth && !isLoopbackHost(host)) {
    throw new TunekitError(`\`--no-auth\` is refused on \`${host}\`: anyone who can reach it could train and read your data`, {
      kind: "usage",
      code: "no_auth_on_public_host",
      field: "--no-auth",
      fix: "bind a loopback host (`--host 127.0.0.1`) or create a key with `tunekit keys create` and drop `--no-auth`",
    });
  }
  const maxUploadMb = options.maxUploadMb ?? 512;
  if (!(maxUploadMb > 0))
    throw new TunekitError("`--max-upload-mb` must be a positive number", {
      kind: "usage",
      code: "invalid_option",
      field: "--max-upload-mb",
      fix: "pass e.g. `--max-upload-mb 512`",
    });
  const dataDir = resolve(options.dataDir ?? ".tunekit");
  const database = await openDatabase(dataDir);
  const keys = new ApiKeyStore(database);
  const files = new FileStore(database, dataDir, Math.floor(maxUploadMb * (1 << 20)));
  const store = new JobStore(database);
  const bundled = (options.models ?? []).length === 0 && options.bundledModel !== false ? bundledModel() : null;
  const catalog = new ModelCatalog({ models: bundled ? [bundled] : (options.models ?? []), modelsDir: options.modelsDir ?? join(dataDir, "models") });
  // local, ray and slurm behind one router, unless a test hands the server its own backend
  const execution = options.backend ? null : buildExecutionBackends(options.execution, { forkServer: options.forkServer });
  const backend = options.backend ?? execution!.backend;
  const runs = new RunPreparer(store, files, catalog, {
    dataDir,
    trainingDefaults: options.trainingDefaults,
    maxSeqLen: options.maxSeqLen,
    ...(execution ? { processesOf: execution.processesOf } : {}),
  });
  const outcomes = new JobOutcomes(store, files);
  const scheduler = new Scheduler(store, backend, {
    maxConcurrentJobs: options.maxConcurrentJobs ?? 1,
    heartbeatMs: options.heartbeatMs,
    runs,
    outcomes,
    ...(execution ? { backendNames: execution.names, maxRetries: execution.maxRetries } : {}),
  });
  const jobs = new JobService(store, files, catalog, scheduler, outcomes);
  const recovery = new JobRecovery(store, scheduler, outcomes, {
    staleHeartbeatMs: options.staleHeartbeatMs,
    sweepMs: options.heartbeatMs,
    baseLearningRate: runs.baseLearningRate(),
    // the workers of a dead server on this machine (the Python-worker bridge's /proc scan)
    leftoverWorkers: workerProcesses,
    // the attempts of a dead server still on a cluster engine (Ray, Slurm)
    ...(execution ? { leftoverAttempts: (runDir: string, name: string) => execution.backend.leftoverAttemptOn(name, runDir) } : {}),
  });
  // the one bridge to the Python worker, for the estimates' plans and for serving
  const worker = new PythonWorkerBridge();
  const { worker: serveWorker, ...serve } = options.serve ?? {};
  const chat = createChatService({
    ...serve,
    worker: serveWorker ? new PythonWorkerBridge(serveWorker) : worker,
    catalog,
    fineTuned: store,
    cacheDir: join(dataDir, "serve-cache"),
  });
  const workbench = new FileWorkbench(files, catalog);
  const insight = new JobInsight(store, files, { defaultMethod: options.trainingDefaults?.method, logFileOf: (runDir) => join(runDir, RUN_FILES.workerLog) });
  const estimator = new TrainingEstimator(files, catalog, store, options.planner ?? ((specFile, signal) => worker.plan(specFile, signal)), {
    dataDir,
    trainingDefaults: options.trainingDefaults,
    maxSeqLen: options.maxSeqLen,
  });
  const hosted = new HostedJobs(files, options.hosted ?? []);
  const services: Services = { keys, files, jobs, chat, workbench, insight, estimator, hosted };
  const noAuthProject = options.noAuth ? await keys.ensureProject(DEFAULT_PROJECT) : null;
  // a server that shares this data dir and dies later leaves jobs behind too: recovery sweeps for them
  const recovered = { ...(await recovery.start()), revalidated: await jobs.revalidate() };
  scheduler.start();
  const webRoot = options.webRoot === undefined ? join(packageRoot(), "dist", "web") : options.webRoot;
  const jobDefaults = { training: { ...options.trainingDefaults }, data: options.maxSeqLen === undefined ? {} : { max_seq_len: options.maxSeqLen } };
  const app = await buildServer({ services, noAuthProject, logger: options.logger, webRoot: webRoot ?? undefined, jobDefaults });
  try {
    await app.listen({ host, port: options.port ?? 8000 });
  } catch (error) {
    await recovery.stop();
    await scheduler.close();
    await database.destroy();
    throw new TunekitError(`cannot listen on ${host}:${options.port ?? 8000}: ${(error as Error).message}`, {
      kind: "environment",
      code: "listen_failed",
      field: "--port",
      fix: "pick another `--port` or stop the process using it",
      cause: error,
    });
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    app,
    services,
    scheduler,
    database,
    recovered,
    close() {
      closing ??= (async () => {
        await recovery.stop();
        await app.close();
        await scheduler.close();
        await backend.close?.();
        await jobs.settled();
        await chat.close();
        await database.destroy();
      })();
      return closing;
    },
  };
}
