import { MultiBar, type SingleBar } from "cli-progress";
import type { Command } from "commander";
import { loadConfig } from "../../core/config-load.js";
import { TunekitError, isTunekitError } from "../../core/errors.js";
import { dataChecker } from "../../providers/local/data-check.js";
import { launchRun, prepareResume, prepareRun, type PreparedRun } from "../../providers/local/local-training.js";
import { latestCheckpoint } from "../../providers/local/run-directory.js";
import { LocalExecutionBackend, type LocalRunHandle } from "../../providers/local/local-execution-backend.js";
import { resolveWorker, type WorkerOutcome } from "../../providers/local/python-worker.js";
import type { WorkerEvent } from "../../spec/worker-events.js";
import { trainExitCode } from "../../spec/worker-exit.js";
import { action, repeatable } from "../output.js";
import { firstRecordFormat, trainWarning } from "../untemplated-format.js";
import { trainHosted, type HostedTrainOptions } from "./train-hosted.js";

interface TrainOptions extends HostedTrainOptions {
  config: string;
  set: string[];
  resume?: string;
  json: boolean;
  verbose: boolean;
  progressEvery?: string;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  return hours > 0 ? `${hours}h${String(minutes).padStart(2, "0")}m` : minutes > 0 ? `${minutes}m${String(rest).padStart(2, "0")}s` : `${rest}s`;
}

const number = (value: number | null | undefined, digits = 4) => (value === null || value === undefined ? "-" : value.toFixed(digits));

/**
 * Renders worker events for a person: a progress bar on a terminal (a line every N steps
 * otherwise), one line per log/eval/checkpoint, all on stderr; the final report on stdout.
 */
class HumanReporter {
  // a MultiBar (of one bar) because it prints log lines above the bar and tracks its own line;
  // SingleBar restores a saved cursor position on stop, which lands mid-screen after log lines
  private bars: MultiBar | null = null;
  private bar: SingleBar | null = null;
  private totalSteps = 0;
  private lastEvalLoss: number | null = null;
  private firstStep: { step: number; at: number } | null = null;
  private lastPrintedStep = -1;
  private barFields: Record<string, string | number> = {};
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly progressEvery: number | null,
    private readonly verbose: boolean,
  ) {}

  line(text: string): void {
    if (this.bars) {
      this.bars.log(`${text}\n`);
    } else {
      process.stderr.write(`${text}\n`);
    }
  }

  stderr(line: string): void {
    if (this.verbose) this.line(`  worker: ${line}`);
  }

  event(event: WorkerEvent): void {
    switch (event.type) {
      case "started":
        this.line(
          `worker ${event.pid} on ${event.device}${event.world_size > 1 ? ` x${event.world_size}` : ""}${event.resumed_from ? `, resuming from ${event.resumed_from}` : ""}`,
        );
        break;
      case "config": {
        const training = (event.resolved.training ?? {}) as Record<string, unknown>;
        this.line(`resolved: epochs ${training.epochs}, batch ${training.batch_size} (micro ${training.micro_batch_size}), learning rate ${training.learning_rate}`);
        break;
      }
      case "data":
        this.totalSteps = event.total_steps;
        this.line(
          `data: ${event.train_examples} train / ${event.valid_examples} validation examples, ${event.trained_tokens} trained tokens per epoch, ` +
            `${event.sequences} sequences, ${event.steps_per_epoch} steps per epoch, ${event.total_steps} steps` +
            (event.truncated_examples > 0 ? `, ${event.truncated_examples} examples truncated to max_seq_len` : ""),
        );
        break;
      case "metrics":
        this.metrics(event);
        break;
      case "eval":
        this.lastEvalLoss = event.valid_loss;
        if (this.bar) this.bar.update({ ...this.barFields, val_loss: number(event.valid_loss) });
        this.line(
          `eval step ${event.step}${event.full ? " (full)" : ""}: valid_loss ${number(event.valid_loss)}, valid_mean_token_accuracy ${number(event.valid_mean_token_accuracy, 3)}`,
        );
        break;
      case "checkpoint":
        this.line(`checkpoint step ${event.step} (epoch ${number(event.epoch, 2)}): ${event.path}`);
        break;
      case "log":
        if (event.level !== "debug" || this.verbose) this.line(`${event.level === "info" ? "" : `${event.level}: `}${event.message}`);
        break;
      case "error":
        this.line(`worker error (${event.code}${event.field ? `, \`${event.field}\`` : ""}): ${event.message}`);
        break;
      case "cancelled":
        this.line(`worker stopped at step ${event.step}${event.checkpoint_path ? `, checkpoint ${event.checkpoint_path}` : ", no checkpoint"}`);
        break;
      case "done":
        break;
    }
  }

  private metrics(event: Extract<WorkerEvent, { type: "metrics" }>): void {
    this.totalSteps = event.total_steps;
    const now = Date.now();
    if (!this.firstStep) this.firstStep = { step: event.step, at: now };
    const stepsDone = event.step - this.firstStep.step;
    const secondsPerStep = stepsDone > 0 ? (now - this.firstStep.at) / 1000 / stepsDone : null;
    const eta = secondsPerStep === null ? "?" : formatDuration((event.total_steps - event.step) * secondsPerStep);
    const fields = {
      epoch: event.epoch.toFixed(2),
      loss: number(event.train_loss),
      val_loss: number(this.lastEvalLoss),
      tokens_per_second: Math.round(event.tokens_per_second),
      remaining: eta,
    };
    this.barFields = fields;
    if (this.tty && this.progressEvery === null) {
      if (!this.bars) {
        this.bars = new MultiBar({
          stream: process.stderr,
          gracefulExit: false,
          format: "{bar} {value}/{total} | epoch {epoch} | loss {loss} | val {val_loss} | {tokens_per_second} tok/s | ETA {remaining}",
          barsize: 24,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 20,
        });
        this.bar = this.bars.create(event.total_steps, event.step, fields);
      } else {
        this.bar?.setTotal(event.total_steps);
        this.bar?.update(event.step, fields);
      }
      return;
    }
    const every = this.progressEvery ?? Math.max(1, Math.ceil(event.total_steps / 20));
    if (event.step % every === 0 || event.step === event.total_steps || this.lastPrintedStep < 0) {
      this.lastPrintedStep = event.step;
      this.line(`step ${event.step}/${event.total_steps} | epoch ${fields.epoch} | loss ${fields.loss} | val ${fields.val_loss} | ${fields.tokens_per_second} tok/s | ETA ${eta}`);
    }
  }

  stop(): void {
    if (this.bars) {
      this.bars.update(); // flush lines logged since the last redraw
      this.bars.stop();
      this.bars = null;
      this.bar = null;
    }
  }
}

/** `40 duplicate_example, 8 missing_system_message` */
function warningSummary(warnings: ReadonlyArray<{ code: string }>): string {
  const counts = new Map<string, number>();
  for (const warning of warnings) counts.set(warning.code, (counts.get(warning.code) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${count} ${code}`)
    .join(", ");
}

function resumeCommand(runDir: string): string {
  return `tunekit train --resume ${JSON.stringify(runDir).slice(1, -1).includes(" ") ? JSON.stringify(runDir) : runDir}`;
}

function resultRecord(prepared: PreparedRun, outcome: WorkerOutcome): Record<string, unknown> {
  const canResume = outcome.status !== "done" && latestCheckpoint(prepared.runDir) !== null;
  return {
    type: "result",
    status: outcome.status,
    run_dir: prepared.runDir,
    resumed_from: prepared.resumedFrom,
    exit_code: outcome.exitCode,
    signal: outcome.signal,
    message: outcome.message,
    adapter_path: outcome.done?.adapter_path ?? null,
    merged_path: outcome.done?.merged_path ?? null,
    summary: outcome.done?.summary ?? null,
    last_checkpoint: outcome.cancelled?.checkpoint_path ?? outcome.lastCheckpoint?.path ?? null,
    resume_command: canResume ? resumeCommand(prepared.runDir) : null,
    protocol_errors: outcome.protocolErrors,
    ...(outcome.status !== "done" && outcome.status !== "cancelled" && { stderr_tail: outcome.stderrTail }),
  };
}

function printHumanResult(prepared: PreparedRun, outcome: WorkerOutcome): void {
  const out = (text: string) => process.stdout.write(`${text}\n`);
  const record = resultRecord(prepared, outcome);
  for (const problem of outcome.protocolErrors.slice(0, 5)) {
    process.stderr.write(`protocol error: ${problem.message}\n  line: ${problem.line.slice(0, 300)}\n`);
  }
  if (outcome.status === "done" && outcome.done) {
    const { summary } = outcome.done;
    out(
      `training finished: ${summary.steps} steps in ${formatDuration(summary.train_runtime_s)}, ${summary.trained_tokens} trained tokens (${Math.round(summary.tokens_per_second)} tokens/s)`,
    );
    out(
      `  final train_loss ${number(summary.final_train_loss)}, valid_loss ${number(summary.final_valid_loss)}, valid_mean_token_accuracy ${number(summary.final_valid_mean_token_accuracy, 3)}`,
    );
    if (outcome.done.adapter_path) out(`  adapter: ${outcome.done.adapter_path}`);
    if (outcome.done.merged_path) out(`  merged model: ${outcome.done.merged_path}`);
    out(`  run folder: ${prepared.runDir} (summary.json, events.jsonl, worker.log)`);
    return;
  }
  if (outcome.status === "cancelled") {
    out(`training stopped: ${outcome.message}`);
    if (record.resume_command) out(`  resume with: ${record.resume_command as string}`);
    else out(`  no checkpoint was written; start again with \`tunekit train -c <config>\``);
    return;
  }
  process.stderr.write(`error: ${outcome.message}\n`);
  if (outcome.stderrTail.length > 0) {
    process.stderr.write(
      `last worker output (${prepared.runDir}/worker.log):\n${outcome.stderrTail
        .slice(-20)
        .map((line) => `  ${line}`)
        .join("\n")}\n`,
    );
  }
  const fix =
    outcome.status === "bad_config"
      ? "fix the config field named above and start a new run (retrying as is will fail again)"
      : outcome.status === "diverged"
        ? "lower `training.learning_rate` (or set it to `auto`) and start again"
        : record.resume_command
          ? `see the worker output above; after fixing the cause, continue with \`${record.resume_command as string}\``
          : "see the worker output above";
  process.stderr.write(`fix: ${fix}\n`);
}

/** Run the worker to its end, forwarding Ctrl-C (SIGINT) and SIGTERM as a clean cancel (a second one kills it). */
async function supervise(worker: LocalRunHandle, onFirstInterrupt: () => void, onSecondInterrupt: () => void): Promise<{ outcome: WorkerOutcome; interrupted: boolean }> {
  let interrupts = 0;
  const interrupt = () => {
    interrupts += 1;
    if (interrupts === 1) onFirstInterrupt();
    else onSecondInterrupt();
    void worker.cancel();
  };
  const killOnExit = () => worker.kill();
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  process.on("exit", killOnExit);
  try {
    const outcome = await worker.workerOutcome;
    return { outcome, interrupted: interrupts > 0 };
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
    process.off("exit", killOnExit);
  }
}

async function train(options: TrainOptions): Promise<number> {
  const progressEvery = options.progressEvery === undefined ? null : Number(options.progressEvery);
  if (progressEvery !== null && (!Number.isInteger(progressEvery) || progressEvery < 1)) {
    throw new TunekitError(`\`--progress-every\` must be a whole number >= 1, got \`${options.progressEvery}\``, {
      kind: "usage",
      code: "bad_option",
      field: "--progress-every",
      fix: "pass e.g. --progress-every 10",
    });
  }
  let prepared: PreparedRun;
  if (options.resume && options.server !== undefined) {
    throw new TunekitError("`--resume` continues a local run; a job on a server resumes there", {
      kind: "usage",
      code: "bad_option",
      field: "--resume",
      fix: "use `tunekit jobs resume <job-id> --server URL` for a paused server job",
    });
  }
  if (options.resume) {
    if (options.set.length > 0) {
      throw new TunekitError("`--set` cannot change a run that is resumed", {
        kind: "usage",
        code: "bad_option",
        field: "--set",
        fix: "resume without --set (the run keeps its job.json), or start a new run with the changed config",
      });
    }
    prepared = prepareResume(options.resume);
  } else {
    const loaded = loadConfig(options.config, options.set);
    if (options.server !== undefined || loaded.config.provider !== "local") return trainHosted(loaded, options);
    if (loaded.config.execution.backend !== "local") {
      // a cluster run outlives this process: the server's reconciler follows it, and resumes watching after a restart
      throw new TunekitError(`\`execution.backend: ${loaded.config.execution.backend}\` trains through a Tunekit server, which submits the job and follows it on the cluster`, {
        kind: "usage",
        code: "cluster_needs_server",
        field: "execution.backend",
        fix: `start \`tunekit server --config ${options.config}\` and run \`tunekit train --server http://127.0.0.1:8000 -c ${options.config}\`, or set \`execution.backend: local\``,
      });
    }
    prepared = await prepareRun(loaded, dataChecker(loaded.config.data.format));
  }
  const environment = resolveWorker();

  const json = options.json;
  const reporter = json ? null : new HumanReporter(progressEvery, options.verbose);
  const emit = (record: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(record)}\n`);
  if (json) {
    emit({
      type: "run",
      run_dir: prepared.runDir,
      resumed_from: prepared.resumedFrom,
      epochs: prepared.epochs,
      data: prepared.data && { train_examples: prepared.data.trainExamples, validation_examples: prepared.data.validationExamples, warnings: prepared.data.warnings.length },
    });
  } else {
    process.stderr.write(`run folder: ${prepared.runDir}\n`);
    if (prepared.resumedFrom) process.stderr.write(`resuming from ${prepared.resumedFrom}\n`);
    if (prepared.data) {
      const warnings = prepared.data.warnings.length;
      process.stderr.write(
        `data ok: ${prepared.data.trainExamples} training examples${prepared.data.validationExamples !== null ? `, ${prepared.data.validationExamples} validation examples` : ""}` +
          `${warnings > 0 ? ` (${warnings} warning${warnings === 1 ? "" : "s"}: ${warningSummary(prepared.data.warnings)}; \`tunekit data validate\` lists them)` : ""}\n`,
      );
    }
    if (prepared.epochs) process.stderr.write(`epochs: ${prepared.epochs.resolved}${prepared.epochs.requested === "auto" ? " (auto, from the dataset size)" : ""}\n`);
  }
  // prompt-completion and text data train without the chat template; serving uses it (see untemplated-format.ts)
  const declared = prepared.spec.data.format;
  const untemplated = trainWarning(declared === "auto" ? (firstRecordFormat(prepared.spec.data.train) ?? "auto") : declared, prepared.spec.data.train);
  if (untemplated) {
    if (json) emit({ type: "warning", code: untemplated.code, format: untemplated.format, message: untemplated.message, fix: untemplated.fix });
    else process.stderr.write(`warning: ${untemplated.message}\n  fix: ${untemplated.fix}\n`);
  }

  // the same local execution backend the server launches through, on the interpreter checked above
  const worker = launchRun(prepared, new LocalExecutionBackend({ python: environment.python, workerRoot: environment.workerRoot }), {
    onEvent: (event) => (json ? emit(event as unknown as Record<string, unknown>) : reporter!.event(event)),
    onProtocolError: (problem) => (json ? emit({ type: "protocol_error", message: problem.message, line: problem.line }) : reporter!.line(`protocol error: ${problem.message}`)),
    onStderr: (line) => reporter?.stderr(line),
  });
  const { outcome, interrupted } = await supervise(
    worker,
    () => {
      const message = "stopping: the worker is writing a checkpoint (press Ctrl-C again to stop at once, without one)";
      if (json) emit({ type: "interrupt", message });
      else reporter!.line(message);
    },
    () => {
      if (!json) reporter!.line("stopping now (SIGKILL)");
    },
  );
  reporter?.stop();
  if (json) emit(resultRecord(prepared, outcome));
  else printHumanResult(prepared, outcome);
  return trainExitCode(outcome.status, interrupted);
}

export function registerTrain(program: Command): void {
  program
    .command("train")
    .description(
      "train with the local worker (validate the data, run, checkpoint; Ctrl-C stops cleanly and --resume continues), " +
        "or submit the job to a Tunekit server (--server) or the config's hosted `provider:` (openai, azure) and follow it",
    )
    .option("-c, --config <file>", "run config", "tunekit.yaml")
    .option("--set <key=value>", "override a config field, e.g. --set training.max_steps=20 (repeatable)", repeatable, [] as string[])
    .option("--resume <run_dir>", "continue the run in RUN_DIR from its latest checkpoint (uses RUN_DIR/job.json)")
    .option("--json", 'one JSON event per line on stdout, ending with a {"type":"result"} line; no progress bar', false)
    .option("--progress-every <steps>", "print a progress line every N steps instead of a progress bar")
    .option("-v, --verbose", "also show the worker's own log lines (always saved to RUN_DIR/worker.log)", false)
    .option("--server <url>", "submit to this Tunekit server over its OpenAI fine-tuning API instead of training here (`model` must be one of its base models)")
    .option("--api-key <key>", "API key of the --server (env TUNEKIT_API_KEY)")
    .option("--detach", "with --server or a hosted provider: print the job id and return instead of following the job", false)
    .option("--poll-interval <seconds>", "with --server or a hosted provider: seconds between status polls (default: 1 for --server, else the provider's poll_interval_s)")
    .action(
      action(async (options: TrainOptions) => {
        if (!options.json) return train(options);
        // --json keeps stdout one JSON object per line, errors included
        try {
          return await train(options);
        } catch (error) {
          const tunekitError = isTunekitError(error) ? error : new TunekitError(error instanceof Error ? error.message : String(error), { kind: "internal", cause: error });
          process.stdout.write(`${JSON.stringify({ type: "result", status: tunekitError.kind === "data" ? "invalid_data" : "error", ...tunekitError.toJSON() })}\n`);
          return tunekitError.exitCode;
        }
      }),
    );
}
