import { existsSync } from "node:fs";
import { withFix } from "../../data/validate/problem-codes.js";
import { isAbsolute, join, resolve } from "node:path";
import { resolveConfigPath, type LoadedConfig } from "../../core/config-load.js";
import { TunekitError, type ProblemDetail } from "../../core/errors.js";
import { resolveEpochs } from "../../data/estimate/resolve-epochs.js";
import type { WorkerJobSpec } from "../../spec/job-spec.js";
import type { WorkerEvent } from "../../spec/worker-events.js";
import { latestCheckpoint, newRunDirectory, readJobSpec } from "./run-directory.js";
import type { WorkerEnvironment } from "./worker-environment.js";
import { JOB_FILE, startWorker, workerCommand, type ProtocolError, type WorkerProcess } from "./worker-process.js";

/**
 * Local training as a service: turn a loaded config into a run folder and a job spec (after the
 * dataset toolkit has checked the data), or pick a run back up from its latest checkpoint; then
 * launch the worker. The CLI (and later the job scheduler) only render what happens.
 */

/** What the dataset toolkit found in the training (and validation) file. */
export interface DataCheck {
  /** usable training examples */
  trainExamples: number;
  validationExamples: number | null;
  /** problems that block training; empty when the data is usable */
  errors: ProblemDetail[];
  /** every blocking problem, when `errors` lists only the first ones */
  errorCount?: number;
  warnings: ProblemDetail[];
}

export type DataValidator = (train: string, validation: string | null, model: string) => Promise<DataCheck>;

export interface PreparedRun {
  runDir: string;
  spec: WorkerJobSpec;
  /** the checkpoint resumed from, null for a fresh run */
  resumedFrom: string | null;
  /** present for a fresh run */
  data: DataCheck | null;
  epochs: { requested: "auto" | number; resolved: number } | null;
}

/** A config `model` that names a local file or folder becomes absolute (relative to the config file); a hub id stays. */
export function resolveModel(loaded: LoadedConfig, model: string): string {
  if (isAbsolute(model)) return model;
  const candidate = resolveConfigPath(loaded, model);
  const looksLikePath = model.startsWith("./") || model.startsWith("../") || model.startsWith("~") || /\.gguf$/i.test(model);
  if (existsSync(candidate) || looksLikePath) return model.startsWith("~") ? resolve(process.env.HOME ?? "", model.slice(2)) : candidate;
  return model;
}

/**
 * The config's training and validation files, resolved, present and checked with the dataset
 * toolkit: a TunekitError naming the field (missing file) or listing every blocking problem.
 * Shared by local runs and jobs submitted to a server or hosted provider.
 */
export async function checkTrainingData(loaded: LoadedConfig, validateData: DataValidator, model: string): Promise<{ train: string; validation: string | null; data: DataCheck }> {
  const { config } = loaded;
  const train = resolveConfigPath(loaded, config.data.train);
  const validation = config.data.validation === null ? null : resolveConfigPath(loaded, config.data.validation);
  for (const [field, path] of [
    ["data.train", train],
    ["data.validation", validation],
  ] as const) {
    if (path !== null && !existsSync(path)) {
      throw new TunekitError(`\`${field}\` file ${path} does not exist`, {
        kind: "data",
        code: "data_not_found",
        field,
        file: path,
        fix: `fix \`${field}\` in ${loaded.path ?? "the config"} (paths are relative to the config file)`,
      });
    }
  }
  const data = await validateData(train, validation, model);
  if (data.errors.length > 0) {
    const count = data.errorCount ?? data.errors.length;
    throw new TunekitError(`the training data has ${count} problem${count === 1 ? "" : "s"} that block training`, {
      kind: "data",
      code: "invalid_data",
      field: "data.train",
      problems: data.errors.map(withFix),
      fix: "fix the lines above (`tunekit data validate <file>` shows every problem and warning), then run `tunekit train` again",
    });
  }
  return { train, validation, data };
}

/**
 * A fresh run: check provider and data, resolve epochs, pick the run folder. Nothing is written
 * until the worker is launched; data errors are a TunekitError listing every problem.
 */
export async function prepareRun(loaded: LoadedConfig, validateData: DataValidator, now: Date = new Date()): Promise<PreparedRun> {
  const { config } = loaded;
  if (config.provider !== "local") {
    throw new TunekitError(`\`provider\` is \`${config.provider}\`; \`tunekit train\` runs the local worker`, {
      kind: "config",
      code: "wrong_provider",
      field: "provider",
      fix: `set \`provider: local\` (or \`--set provider=local\`) to train on this machine; hosted ${config.provider} jobs go through the server's fine-tuning API`,
    });
  }
  const model = resolveModel(loaded, config.model);
  const { train, validation, data } = await checkTrainingData(loaded, validateData, model);
  const epochs = resolveEpochs(data.trainExamples, config.training.epochs);
  const runDir = newRunDirectory(resolveConfigPath(loaded, config.output.dir), config.output.name, config.model, now);
  const { test: _test, ...dataSpec } = config.data;
  const spec: WorkerJobSpec = {
    v: 1,
    run_dir: runDir,
    model,
    data: { ...dataSpec, train, validation },
    // `learning_rate_multiplier` is for hosted and `--server` jobs; a local run uses `learning_rate`
    training: { ...config.training, epochs, learning_rate_multiplier: "auto" },
    resume_from: null,
  };
  return { runDir, spec, resumedFrom: null, data, epochs: { requested: config.training.epochs, resolved: epochs } };
}

/** `--resume RUN_DIR`: the run's own job.json, continued from its newest checkpoint. */
export function prepareResume(runDirArgument: string): PreparedRun {
  const runDir = resolve(runDirArgument);
  const saved = readJobSpec(runDir);
  const checkpoint = latestCheckpoint(runDir);
  if (checkpoint === null) {
    throw new TunekitError(`${runDir} has no checkpoint to resume from`, {
      kind: "usage",
      code: "no_checkpoint",
      field: "--resume",
      fix: `the run stopped before its first checkpoint; start it again with \`tunekit train -c <config>\` (lower \`training.checkpoint_every\` to checkpoint sooner)`,
    });
  }
  for (const [field, path] of [
    ["data.train", saved.data.train],
    ["data.validation", saved.data.validation],
  ] as const) {
    if (path !== null && !existsSync(path)) {
      throw new TunekitError(`\`${field}\` file ${path} of the run no longer exists`, {
        kind: "data",
        code: "data_not_found",
        field,
        file: path,
        fix: "put the file back where it was when the run started, then resume again",
      });
    }
  }
  return { runDir, spec: { ...saved, run_dir: runDir, resume_from: checkpoint }, resumedFrom: checkpoint, data: null, epochs: null };
}

export interface LaunchCallbacks {
  onEvent?: (event: WorkerEvent) => void;
  onProtocolError?: (error: ProtocolError) => void;
  onStderr?: (line: string) => void;
  cancelTimeoutMs?: number;
}

/** Write <run_dir>/job.json and start the worker (through torchrun when num_processes > 1). */
export function launchRun(prepared: PreparedRun, environment: WorkerEnvironment, callbacks: LaunchCallbacks = {}): WorkerProcess {
  const specPath = join(prepared.runDir, JOB_FILE);
  return startWorker({
    command: workerCommand(environment.python, specPath, prepared.spec.training.num_processes),
    runDir: prepared.runDir,
    spec: prepared.spec,
    pythonPath: environment.workerRoot,
    ...callbacks,
  });
}
