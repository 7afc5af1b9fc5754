import { existsSync } from "node:fs";
import { basename, isAbsolute, resolve } from "node:path";
import { resolveConfigPath, type LoadedConfig } from "../../core/config-load.js";
import { TunekitError } from "../../core/errors.js";
import { buildWorkerJobSpec, type WorkerJobSpec } from "../../core/worker-job-spec.js";
import { resolveEpochs } from "../../data/estimate/resolve-epochs.js";
import { writeJobFile } from "../../spec/run-folder.js";
import type { WorkerEvent } from "../../spec/worker-events.js";
import { checkTrainingData, type DataCheck, type DataValidator } from "./data-check.js";
import type { LocalExecutionBackend, LocalRunHandle } from "./local-execution-backend.js";
import type { ProtocolError } from "./python-worker.js";
import { latestCheckpoint, newRunDirectory, readJobSpec } from "./run-directory.js";

/**
 * `tunekit train` on this machine: turn a loaded config into a run folder and a job spec (after
 * the dataset toolkit has checked the data) with the one spec builder the server uses too
 * (core/worker-job-spec.ts), or pick a run back up from its latest checkpoint; then launch the
 * worker. The CLI only renders what happens.
 */

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
  const spec = buildWorkerJobSpec({
    runDir,
    model,
    train,
    validation,
    data: config.data,
    // `learning_rate_multiplier` is for hosted and `--server` jobs; a local run uses `learning_rate`
    training: { ...config.training, learning_rate_multiplier: "auto" },
    epochs,
    resumeFrom: null,
  });
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
}

/**
 * Write <run_dir>/job.json and launch the worker through the local execution backend, as the
 * server's scheduler does (torchrun when num_processes > 1). The attempt is the run folder's name
 * and `start`, or the checkpoint it resumes from.
 */
export function launchRun(prepared: PreparedRun, backend: LocalExecutionBackend, callbacks: LaunchCallbacks = {}): LocalRunHandle {
  const specFile = writeJobFile(prepared.runDir, prepared.spec);
  const run = basename(prepared.runDir);
  return backend.launch(
    {
      attemptId: `${run}/${prepared.resumedFrom === null ? "start" : basename(prepared.resumedFrom)}`,
      jobId: run,
      runDir: prepared.runDir,
      specFile,
      numProcesses: prepared.spec.training.num_processes,
    },
    callbacks.onEvent ?? (() => undefined),
    { onProtocolError: callbacks.onProtocolError, onStderr: callbacks.onStderr },
  );
}
