import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SlurmSettings } from "../../core/config-schema.js";
import { TunekitError } from "../../core/errors.js";
import { readFileFrom } from "../../core/read-file-from.js";
import { CLUSTER_ENGINE_VERSION, type ClusterEngine, type ClusterJobState, type ClusterJobStatus, type ClusterSubmission } from "../../spec/cluster-engine.js";

/**
 * Slurm as a cluster engine (spec/cluster-engine.ts): one attempt is one batch job named after its
 * engine key, submitted with `sbatch --parsable`; inside it `srun` starts one torchrun per node
 * (`--nnodes $SLURM_NNODES`, c10d rendezvous on the first node's IP address), and the worker's
 * ranks write the run folder on shared storage. Status comes from `squeue --json`, then `sacct
 * --json` where accounting is on, then the `.exit` file the batch script writes; `scancel` stops.
 * With `execution.slurm.ssh` every command runs on that login node over SSH.
 *
 * `<run_dir>/slurm/` holds, per engine key: `<key>.sbatch` (the script), `<key>.out` (its output),
 * `<key>.exit` (the exit status of srun, written when the job ends on its own) and `<key>.job`
 * (which Slurm job the key was submitted as; written before sbatch, so a second submission of the
 * same key is refused even while the first is in flight).
 */
export interface SlurmEngineOptions {
  /** the interpreter on the nodes that has torch and the worker's requirements */
  python: string;
  /** the folder holding `tunekit_worker` on every node (PYTHONPATH) */
  workerRoot: string;
  /** added to the environment of the Slurm commands (SLURM_CONF, PATH); sbatch passes it on to the job */
  env?: Record<string, string>;
}

interface JobFiles {
  dir: string;
  script: string;
  out: string;
  exit: string;
  record: string;
}

interface KnownJob {
  key: string;
  files: JobFiles | null;
}

interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** squeue's and sacct's JSON for one job, the fields read here (22.05: strings and numbers; 23.02+: arrays and objects) */
interface SlurmJobJson {
  job_id?: number;
  name?: string;
  job_state?: string | string[];
  state?: { current?: string | string[]; reason?: string };
  state_reason?: string;
  nodes?: string;
  exit_code?: number | { status?: string | string[]; return_code?: number | { number?: number; set?: boolean }; signal?: { id?: number | { number?: number } } };
  command?: string;
  standard_output?: string;
}

const COMMAND_TIMEOUT_MS = 60_000;
const PENDING = new Set(["PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT"]);
const RUNNING = new Set(["RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING", "POWER_UP_NODE", "UPDATE_DB"]);
const FAILED = new Set(["FAILED", "NODE_FAIL", "TIMEOUT", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED"]);

export class SlurmEngine implements ClusterEngine {
  readonly version = CLUSTER_ENGINE_VERSION;
  readonly name = "slurm";
  /** engine job id -> what this process knows of it (from submit, or from squeue's command path) */
  private readonly known = new Map<string, KnownJob>();
  /** null until sacct was tried; false where accounting is off (a job gone from squeue is then read from its `.exit` file) */
  private accounting: boolean | null = null;

  constructor(
    private readonly settings: SlurmSettings,
    private readonly options: SlurmEngineOptions,
  ) {}

  async check(numWorkers: number): Promise<void> {
    const result = await this.command("sinfo", ["-h", "-a", "-s", "-o", "%P|%F|%a"]);
    if (result.code !== 0) throw this.unreachable("sinfo", result);
    const partitions = result.stdout
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => {
        const [name = "", counts = "", availability = ""] = line.split("|");
        // %F is allocated/idle/other/total
        const total = Number(counts.split("/")[3] ?? 0);
        return { name: name.replace(/\*$/, ""), isDefault: name.endsWith("*"), total, up: availability === "up" };
      });
    const names = partitions.map((partition) => partition.name);
    const wanted = this.settings.partition;
    const partition = wanted === null ? partitions.find((candidate) => candidate.isDefault) : partitions.find((candidate) => candidate.name === wanted);
    if (!partition) {
      throw new TunekitError(
        wanted === null
          ? `the Slurm cluster has no default partition (it has ${names.join(", ") || "none"})`
          : `execution.slurm.partition: the Slurm cluster has no partition '${wanted}' (it has ${names.join(", ") || "none"})`,
        {
          kind: "config",
          code: "slurm_partition_unknown",
          field: "execution.slurm.partition",
          fix: `set execution.slurm.partition to one of: ${names.join(", ") || "(sinfo lists no partition)"}`,
        },
      );
    }
    if (!partition.up) {
      throw new TunekitError(`execution.slurm.partition: the Slurm partition '${partition.name}' is not up`, {
        kind: "config",
        code: "slurm_partition_down",
        field: "execution.slurm.partition",
        fix: `ask the cluster's admins to bring '${partition.name}' up, or choose another partition (${names.join(", ")})`,
      });
    }
    if (this.settings.nodes > partition.total) {
      throw new TunekitError(`execution.slurm.nodes: ${this.settings.nodes} nodes asked for, but Slurm partition '${partition.name}' has ${partition.total}`, {
        kind: "config",
        code: "slurm_not_enough_nodes",
        field: "execution.slurm.nodes",
        fix: `set execution.slurm.nodes to at most ${partition.total}, or choose a bigger partition`,
      });
    }
    const worldSize = this.settings.nodes * this.settings.processes_per_node;
    if (numWorkers !== worldSize) {
      throw new TunekitError(
        `execution.slurm.nodes: the run trains with ${numWorkers} processes, but ${this.settings.nodes} nodes x ${this.settings.processes_per_node} processes_per_node start ${worldSize}`,
        {
          kind: "config",
          code: "slurm_world_size_mismatch",
          field: "execution.slurm.nodes",
          fix: "launch the run with num_processes = execution.slurm.nodes x execution.slurm.processes_per_node",
        },
      );
    }
  }

  async submit(submission: ClusterSubmission): Promise<string> {
    const files = filesOf(submission.runDir, submission.engineKey);
    mkdirSync(files.dir, { recursive: true });
    const refuse = (why: string) =>
      new TunekitError(`Slurm already has a job for attempt ${submission.attemptId} (${why}); a submitted attempt is never submitted again`, {
        kind: "conflict",
        code: "slurm_job_exists",
      });
    if (existsSync(files.record)) throw refuse(`${files.record} records job ${readRecord(files.record) ?? "(being submitted)"}`);
    if (existsSync(files.exit)) throw refuse(`${files.exit} says it ran`);
    const queued = await this.jobIdsNamed(submission.engineKey);
    if (queued.length > 0) throw refuse(`job ${queued.join(", ")} is named ${submission.engineKey}`);
    // claimed before sbatch: a second submission of this key, from here or elsewhere, is refused
    try {
      writeFileSync(files.record, `${JSON.stringify({ engine_key: submission.engineKey, job_id: null, submitted_at: Date.now() })}\n`, { flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") throw refuse(`${files.record} was just written`);
      throw error;
    }
    writeFileSync(files.script, this.batchScript(submission, files), { mode: 0o755 });
    const result = await this.command("sbatch", ["--parsable", files.script]).catch((error: unknown) => {
      rmSync(files.record, { force: true });
      throw error;
    });
    const jobId = result.stdout.trim().split(";")[0]?.trim() ?? "";
    if (result.code !== 0 || !/^\d+$/.test(jobId)) {
      rmSync(files.record, { force: true });
      const said = (result.stderr || result.stdout).trim();
      if (result.code === 255 && this.settings.ssh) throw this.unreachable("sbatch", result);
      throw new TunekitError(`sbatch refused attempt ${submission.attemptId}: ${said || `exit status ${result.code}`}`, {
        kind: "config",
        code: "slurm_sbatch_failed",
        field: fieldOfSbatchError(said),
        fix: "check execution.slurm (partition, nodes, time_limit, account, sbatch_options) against what the cluster allows",
      });
    }
    writeFileSync(files.record, `${JSON.stringify({ engine_key: submission.engineKey, job_id: jobId, submitted_at: Date.now() })}\n`);
    this.known.set(jobId, { key: submission.engineKey, files });
    return jobId;
  }

  async find(engineKey: string): Promise<string | null> {
    const live = await this.jobIdsNamed(engineKey);
    if (live.length > 0) return live.at(-1)!;
    for (const [jobId, job] of this.known) if (job.key === engineKey) return jobId;
    if (await this.haveAccounting()) {
      const result = await this.command("sacct", ["-n", "-X", "-P", "-o", "JobID", `--name=${engineKey}`]);
      const ids = result.stdout
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => /^\d+$/.test(line));
      if (result.code === 0 && ids.length > 0) return ids.at(-1)!;
    }
    return null;
  }

  async status(engineJobId: string): Promise<ClusterJobStatus> {
    try {
      return await this.statusNow(engineJobId);
    } catch (error) {
      // the controller or the login node did not answer this time: the job is not known to have ended
      if (!(error instanceof TunekitError)) throw error;
      return { state: "unknown", message: error.message, exitCode: this.exitFileCode(engineJobId), nodes: [] };
    }
  }

  private async statusNow(engineJobId: string): Promise<ClusterJobStatus> {
    const queued = await this.queuedJob(engineJobId);
    if (queued) {
      this.remember(engineJobId, queued);
      const status = statusOfJson(queued);
      const exitCode = this.exitFileCode(engineJobId) ?? status.exitCode;
      return { ...status, exitCode };
    }
    if (await this.haveAccounting()) {
      const result = await this.command("sacct", ["--json", "-X", "-j", engineJobId]);
      const job = result.code === 0 ? parseJobs(result.stdout)?.find((candidate) => String(candidate.job_id) === engineJobId) : undefined;
      if (job) {
        const status = statusOfJson(job);
        return { ...status, exitCode: this.exitFileCode(engineJobId) ?? status.exitCode };
      }
    }
    // gone from the controller, and no accounting: the batch script's `.exit` file says how it ended
    const exitCode = this.exitFileCode(engineJobId);
    if (exitCode !== null) {
      return { state: exitCode === 0 ? "succeeded" : "failed", message: `ended with exit status ${exitCode} (from the batch script's .exit file)`, exitCode, nodes: [] };
    }
    return {
      state: "failed",
      message: `Slurm no longer knows job ${engineJobId} and nothing recorded how it ended (cancelled, or its batch node was lost)`,
      exitCode: null,
      nodes: [],
    };
  }

  async stop(engineJobId: string): Promise<void> {
    const result = await this.command("scancel", [engineJobId]);
    if (result.code === 0) return;
    if (/invalid job id|already completing|completed|job has finished/i.test(result.stderr)) return;
    if (result.code === 255 && this.settings.ssh) throw this.unreachable("scancel", result);
    const status = await this.status(engineJobId);
    if (status.state === "succeeded" || status.state === "failed" || status.state === "stopped") return;
    throw new TunekitError(`scancel ${engineJobId} failed: ${result.stderr.trim() || `exit status ${result.code}`}`, { kind: "environment", code: "slurm_scancel_failed" });
  }

  async logs(engineJobId: string, tail: number): Promise<string[]> {
    const out = await this.outputFile(engineJobId);
    if (!out || !existsSync(out)) return [];
    const lines = readFileSync(out, "utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    return tail > 0 ? lines.slice(-tail) : [];
  }

  /** the job's output file from byte `offset` on: it is on shared storage, so a mirror of it reads only what is new */
  async readLog(engineJobId: string, offset: number, limit: number): Promise<Buffer> {
    const out = await this.outputFile(engineJobId);
    return out ? readFileFrom(out, offset, limit) : Buffer.alloc(0);
  }

  /** the output file of a job this engine submitted, or of one still in the queue (a restarted server) */
  private async outputFile(engineJobId: string): Promise<string | null> {
    let files = this.known.get(engineJobId)?.files ?? null;
    if (!files) {
      const queued = await this.queuedJob(engineJobId).catch(() => null);
      if (queued) files = this.remember(engineJobId, queued);
    }
    return files?.out ?? null;
  }

  /** the batch script of one attempt: one torchrun per node through srun */
  private batchScript(submission: ClusterSubmission, files: JobFiles): string {
    const settings = this.settings;
    const directives = [
      `--job-name=${submission.engineKey}`,
      `--nodes=${settings.nodes}`,
      "--ntasks-per-node=1",
      `--cpus-per-task=${settings.cpus_per_task}`,
      `--time=${settings.time_limit}`,
      `--output=${files.out}`,
      // Tunekit retries an attempt as a new attempt that resumes from a checkpoint; Slurm must not rerun this one
      "--no-requeue",
      ...(settings.partition ? [`--partition=${settings.partition}`] : []),
      ...(settings.account ? [`--account=${settings.account}`] : []),
      ...(settings.gpus_per_node > 0 ? [`--gpus-per-node=${settings.gpus_per_node}`] : []),
      ...settings.sbatch_options,
    ];
    const exported: Record<string, string> = {
      PYTHONPATH: settings.worker_root ?? this.options.workerRoot,
      PYTHONUNBUFFERED: "1",
      TOKENIZERS_PARALLELISM: "false",
      ...(settings.socket_ifname ? { GLOO_SOCKET_IFNAME: settings.socket_ifname, NCCL_SOCKET_IFNAME: settings.socket_ifname } : {}),
      ...settings.env,
    };
    const torchrun = [
      settings.python ?? this.options.python,
      "-m",
      "torch.distributed.run",
      "--nnodes",
      '"$SLURM_NNODES"',
      "--nproc-per-node",
      String(settings.processes_per_node),
      "--rdzv-backend",
      "c10d",
      "--rdzv-endpoint",
      `"$head_addr":${settings.rendezvous_port}`,
      "--rdzv-id",
      '"$SLURM_JOB_ID"',
      "-m",
      "tunekit_worker",
      "train",
      submission.specFile,
    ].map((word) => (word.startsWith('"') ? word : shellQuote(word)));
    return [
      "#!/bin/bash",
      `# Tunekit attempt ${submission.attemptId} (job ${submission.jobId}), written by the Slurm execution backend`,
      ...directives.map((directive) => `#SBATCH ${shellQuote(directive)}`),
      "",
      "set -u",
      `exit_file=${shellQuote(files.exit)}`,
      'finish() { echo "$1" > "$exit_file.tmp" && mv -f "$exit_file.tmp" "$exit_file"; exit "$1"; }',
      "# Slurm 22.05+: srun does not inherit the batch step's --cpus-per-task",
      'export SRUN_CPUS_PER_TASK="${SLURM_CPUS_PER_TASK:-1}"',
      ...Object.entries(exported).map(([name, value]) => `export ${name}=${shellQuote(value)}`),
      "# torchrun's rendezvous on the first node, by IP address (its hostname may not resolve on the others)",
      'head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
      `head_addr=$(scontrol show node -o "$head" | tr ' ' '\\n' | sed -n 's/^NodeAddr=//p' | head -n 1)`,
      'if ! [[ "$head_addr" =~ ^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$ ]]; then',
      "  head_addr=$(getent ahostsv4 \"${head_addr:-$head}\" | awk 'NR == 1 { print $1 }')",
      "fi",
      'if [ -z "$head_addr" ]; then echo "tunekit: the first node $head has no IPv4 address" >&2; finish 1; fi',
      'echo "tunekit: job $SLURM_JOB_ID on $SLURM_JOB_NODELIST, rendezvous at $head_addr:' + String(settings.rendezvous_port) + '" >&2',
      `srun --kill-on-bad-exit=1 --nodes="$SLURM_NNODES" --ntasks-per-node=1 bash -c 'TUNEKIT_NODE_ID="$SLURMD_NODENAME" exec "$0" "$@"' ${torchrun.join(" ")}`,
      "finish $?",
      "",
    ].join("\n");
  }

  private remember(engineJobId: string, job: SlurmJobJson): JobFiles | null {
    const known = this.known.get(engineJobId);
    if (known?.files) return known.files;
    // the batch script is <run_dir>/slurm/<key>.sbatch
    const command = job.command ?? "";
    const match = /^(.*)\/slurm\/([^/]+)\.sbatch$/.exec(command);
    const files = match ? filesOf(match[1]!, match[2]!) : null;
    this.known.set(engineJobId, { key: job.name ?? match?.[2] ?? "", files });
    return files;
  }

  private exitFileCode(engineJobId: string): number | null {
    const file = this.known.get(engineJobId)?.files?.exit;
    if (!file || !existsSync(file)) return null;
    const code = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(code) ? code : null;
  }

  /** the job as squeue shows it; null once the controller forgot it (MinJobAge); throws when squeue did not answer */
  private async queuedJob(engineJobId: string): Promise<SlurmJobJson | null> {
    const result = await this.command("squeue", ["--json", `--jobs=${engineJobId}`]);
    const jobs = parseJobs(result.stdout);
    // 23.02+ answer an id the controller forgot with an error (and exit 1); 22.05 with no jobs
    const forgotten = /invalid job id/i.test(result.stdout + result.stderr);
    if (jobs === null || (result.code !== 0 && !forgotten)) throw this.unreachable("squeue", result);
    return jobs.find((job) => String(job.job_id) === engineJobId) ?? null;
  }

  private async jobIdsNamed(engineKey: string): Promise<string[]> {
    const result = await this.command("squeue", ["-h", "--states=all", `--name=${engineKey}`, "-o", "%i"]);
    if (result.code !== 0) throw this.unreachable("squeue", result);
    return result.stdout
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => /^\d+$/.test(line));
  }

  private async haveAccounting(): Promise<boolean> {
    if (this.accounting === null) {
      const result = await this.command("sacct", ["-n", "-X", "-P", "-o", "JobID", "-j", "1"]).catch(() => null);
      this.accounting = result !== null && result.code === 0 && !/accounting storage is disabled/i.test(result.stderr + result.stdout);
    }
    return this.accounting;
  }

  private unreachable(command: string, result: CommandResult): TunekitError {
    const said = (result.stderr || result.stdout).trim().split("\n").slice(-3).join(" ");
    return new TunekitError(
      this.settings.ssh
        ? `execution.slurm.ssh: \`${command}\` on ${this.settings.ssh} failed (${said || `exit status ${result.code}`})`
        : `execution.slurm.ssh: \`${command}\` on this machine failed (${said || `exit status ${result.code}`})`,
      {
        kind: "environment",
        code: "slurm_unreachable",
        field: "execution.slurm.ssh",
        fix: this.settings.ssh
          ? `check that \`ssh ${[...this.settings.ssh_options, this.settings.ssh].join(" ")}\` logs in without a prompt and that Slurm's commands work there`
          : "install Slurm's client commands and point SLURM_CONF at the cluster here, or set execution.slurm.ssh to a login node (`user@login`)",
      },
    );
  }

  /** one Slurm command, here or on the login node; resolves with its exit code (a missing command is an `execution.slurm.ssh` error) */
  private command(name: string, args: string[]): Promise<CommandResult> {
    const extra = this.options.env ?? {};
    const [file, argv] = this.settings.ssh
      ? [
          "ssh",
          [
            "-o",
            "BatchMode=yes",
            ...this.settings.ssh_options,
            this.settings.ssh,
            "--",
            ...[...(Object.keys(extra).length > 0 ? ["env", ...Object.entries(extra).map(([key, value]) => `${key}=${value}`)] : []), name, ...args].map(shellQuote),
          ],
        ]
      : [name, args];
    return new Promise((resolve, reject) => {
      execFile(file, argv, { env: { ...process.env, ...extra }, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (error, stdout, stderr) => {
        const code = error ? (error as NodeJS.ErrnoException).code : 0;
        if (code === "ENOENT") {
          reject(this.unreachable(name, { code: 127, stdout: "", stderr: `${file}: command not found` }));
          return;
        }
        if (error && typeof code !== "number") {
          reject(this.unreachable(name, { code: 1, stdout, stderr: `${stderr} ${error.message}` }));
          return;
        }
        resolve({ code: typeof code === "number" ? code : 0, stdout, stderr });
      });
    });
  }
}

function filesOf(runDir: string, engineKey: string): JobFiles {
  const dir = join(runDir, "slurm");
  return { dir, script: join(dir, `${engineKey}.sbatch`), out: join(dir, `${engineKey}.out`), exit: join(dir, `${engineKey}.exit`), record: join(dir, `${engineKey}.job`) };
}

function readRecord(file: string): string | null {
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { job_id: string | null }).job_id;
  } catch {
    return null;
  }
}

/** the `jobs` of squeue's or sacct's JSON; null when the output is not that JSON */
function parseJobs(stdout: string): SlurmJobJson[] | null {
  try {
    const parsed = JSON.parse(stdout) as { jobs?: SlurmJobJson[] };
    return Array.isArray(parsed.jobs) ? parsed.jobs : null;
  } catch {
    return null;
  }
}

/** the job's base state (`RUNNING`); 23.02+ give a list of a base state and flags */
function baseState(job: SlurmJobJson): string {
  const raw = job.job_state ?? job.state?.current ?? "UNKNOWN";
  const states = Array.isArray(raw) ? raw : [raw];
  return states.find((state) => PENDING.has(state) || RUNNING.has(state) || FAILED.has(state) || state === "COMPLETED" || state === "CANCELLED") ?? states[0] ?? "UNKNOWN";
}

export function stateOfSlurm(state: string): ClusterJobState {
  if (PENDING.has(state)) return "pending";
  if (RUNNING.has(state)) return "running";
  if (state === "COMPLETED") return "succeeded";
  if (state === "CANCELLED" || state === "REVOKED") return "stopped";
  if (FAILED.has(state)) return "failed";
  return "unknown";
}

/** 22.05: the wait status as a number (exit << 8 | signal); 23.02+: {return_code: {number}, signal: {id}} */
function exitCodeOf(job: SlurmJobJson): number | null {
  const raw = job.exit_code;
  if (raw === undefined || raw === null) return null;
  if (typeof raw === "number") return raw & 0x7f ? 128 + (raw & 0x7f) : (raw >> 8) & 0xff;
  const code = typeof raw.return_code === "number" ? raw.return_code : raw.return_code?.set === false ? null : (raw.return_code?.number ?? null);
  const signal = typeof raw.signal?.id === "number" ? raw.signal.id : (raw.signal?.id?.number ?? 0);
  return signal ? 128 + signal : code;
}

function statusOfJson(job: SlurmJobJson): ClusterJobStatus {
  const state = baseState(job);
  const mapped = stateOfSlurm(state);
  const reason = job.state_reason ?? job.state?.reason ?? "";
  const ended = mapped === "succeeded" || mapped === "failed" || mapped === "stopped";
  return {
    state: mapped,
    message: reason && reason !== "None" ? `${state} (${reason})` : state,
    exitCode: ended ? exitCodeOf(job) : null,
    nodes: expandHostlist(job.nodes ?? ""),
  };
}

/** Slurm's hostlist expression (`tk[1-2,5],gpu03`) as host names */
export function expandHostlist(expression: string): string[] {
  const hosts: string[] = [];
  for (const part of expression.match(/[^,[]+(\[[^\]]*\])?[^,]*/g) ?? []) {
    const match = /^([^[]*)\[([^\]]*)\](.*)$/.exec(part);
    if (!match) {
      if (part.trim()) hosts.push(part.trim());
      continue;
    }
    const [, prefix = "", ranges = "", suffix = ""] = match;
    for (const range of ranges.split(",")) {
      const [from = "", to = from] = range.split("-");
      const width = from.length;
      for (let index = Number(from); index <= Number(to); index++) hosts.push(`${prefix}${String(index).padStart(width, "0")}${suffix}`);
    }
  }
  return hosts;
}

/** the setting an sbatch error is about */
function fieldOfSbatchError(message: string): string | undefined {
  if (/partition/i.test(message)) return "execution.slurm.partition";
  if (/node count|node configuration|nodes/i.test(message)) return "execution.slurm.nodes";
  if (/time limit/i.test(message)) return "execution.slurm.time_limit";
  if (/account/i.test(message)) return "execution.slurm.account";
  return undefined;
}

/** one argument for a POSIX shell */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
