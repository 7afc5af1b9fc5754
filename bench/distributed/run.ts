// Benchmark: training throughput of the tiny Llama on 1 process against 2 processes over 2 Ray
// nodes (Ray Train's TorchTrainer through the Jobs API) and over 2 Slurm nodes (sbatch + srun
// torchrun), with a 2-process local torchrun as the same-machine peer. Every contestant trains the
// same job spec (same data, same steps, one CPU thread per rank) through its execution backend, as
// the server launches it; rounds are interleaved. Figures:
//   tokens/s   trained tokens / the worker's own training time (the done event's summary)
//   scaling    tokens/s against the 1-process run
//   overhead   launch -> outcome wall time minus the training time: submission, scheduling,
//              interpreter and torch start, rendezvous, model load, final save, status polling
//
//   npx tsc -p tsconfig.json && npx tsx bench/distributed/run.ts [--steps 40] [--rounds 2] [--batch-size 4]
//     [--micro-batch-size 2] [--only local-1,local-torchrun-2,ray-2,slurm-2]
//
// The Ray and Slurm clusters are started by scripts/ray-cluster.sh and scripts/slurm-cluster.sh
// (two nodes of one CPU each on this machine) unless they already run; a backend whose cluster
// cannot start is reported and left out.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { raySettingsSchema, slurmSettingsSchema } from "../../src/core/config-schema.js";
import { ClusterExecutionBackend } from "../../src/providers/cluster/cluster-execution-backend.js";
import { LocalExecutionBackend } from "../../src/providers/local/local-execution-backend.js";
import { venvPath, venvPython, workerRoot } from "../../src/providers/local/worker-environment.js";
import { RayEngine } from "../../src/providers/ray/ray-engine.js";
import { SlurmEngine } from "../../src/providers/slurm/slurm-engine.js";
import type { ExecutionBackend } from "../../src/spec/execution-backend.js";
import type { WorkerEvent } from "../../src/spec/worker-events.js";
import { conformanceRequest } from "../../test/helpers/execution-backend-conformance.js";

const args = process.argv.slice(2);
const value = (name: string, fallback: string): string => {
  const index = args.indexOf(name);
  return index !== -1 && args[index + 1] ? (args[index + 1] as string) : fallback;
};
const steps = Number(value("--steps", "40"));
const rounds = Number(value("--rounds", "2"));
const only = value("--only", "local-1,local-torchrun-2,ray-2,slurm-2").split(",");
// the global batch (split across the ranks) and each rank's micro-batch
const batchSize = Number(value("--batch-size", "4"));
const microBatchSize = Number(value("--micro-batch-size", "2"));

const scratch = mkdtempSync(join(tmpdir(), "tunekit-bench-distributed-"));
const worker = { python: venvPython(venvPath()), workerRoot: workerRoot() };
const clusterTiming = { pollIntervalMs: 250, startTimeoutMs: 300_000, stopTimeoutMs: 60_000, settleMs: 1000 };

interface Contestant {
  name: string;
  processes: number;
  backend: ExecutionBackend;
  stop?: () => void;
}

function startCluster(script: string): boolean {
  try {
    execFileSync("bash", [script, "start"], { stdio: ["ignore", "ignore", "pipe"], timeout: 300_000 });
    return true;
  } catch (error) {
    process.stderr.write(`${script} start failed, its backend is left out: ${String((error as { stderr?: Buffer }).stderr ?? error).slice(-400)}\n`);
    return false;
  }
}

const contestants: Contestant[] = [];
if (only.includes("local-1")) contestants.push({ name: "local-1", processes: 1, backend: new LocalExecutionBackend({ ...worker, forkServer: false }) });
if (only.includes("local-torchrun-2")) contestants.push({ name: "local-torchrun-2", processes: 2, backend: new LocalExecutionBackend({ ...worker, forkServer: false }) });
if (only.includes("ray-2") && startCluster("scripts/ray-cluster.sh")) {
  const settings = raySettingsSchema.parse({ num_workers: 2, placement_strategy: "STRICT_SPREAD" });
  contestants.push({
    name: "ray-2",
    processes: 2,
    backend: new ClusterExecutionBackend(new RayEngine(settings, worker), clusterTiming),
    stop: () => execFileSync("bash", ["scripts/ray-cluster.sh", "stop"], { stdio: "ignore" }),
  });
}
if (only.includes("slurm-2") && startCluster("scripts/slurm-cluster.sh")) {
  // the nodes are network namespaces whose interface is tk0; the client commands find the cluster through SLURM_CONF
  const slurmEnv = Object.fromEntries(
    [...execFileSync("bash", ["scripts/slurm-cluster.sh", "env"], { encoding: "utf8" }).matchAll(/^export (\w+)=(\S+)$/gm)].map((match) => [
      match[1]!,
      match[2]!.replace(/^['"]|['"]$/g, ""),
    ]),
  );
  const settings = slurmSettingsSchema.parse({ partition: "tunekit", nodes: 2, processes_per_node: 1, socket_ifname: "tk0" });
  contestants.push({
    name: "slurm-2",
    processes: 2,
    backend: new ClusterExecutionBackend(new SlurmEngine(settings, { ...worker, env: slurmEnv }), clusterTiming),
    stop: () => execFileSync("bash", ["scripts/slurm-cluster.sh", "stop"], { stdio: "ignore" }),
  });
}

interface Sample {
  tokensPerSecond: number;
  trainSeconds: number;
  wallSeconds: number;
  tokens: number;
}
const samples = new Map<string, Sample[]>(contestants.map((contestant) => [contestant.name, []]));

for (let round = 0; round < rounds; round++) {
  for (const contestant of contestants) {
    const request = conformanceRequest({ scratch, processes: contestant.processes }, `${contestant.name}-r${round}`, {
      max_steps: steps,
      checkpoint_every: 1000,
      batch_size: batchSize,
      micro_batch_size: microBatchSize,
    });
    const events: WorkerEvent[] = [];
    const started = performance.now();
    const outcome = await contestant.backend.launch(request, (event) => events.push(event)).finished;
    const wallSeconds = (performance.now() - started) / 1000;
    const done = events.find((event) => event.type === "done");
    if (outcome.status !== "succeeded" || done?.type !== "done") throw new Error(`${contestant.name} round ${round}: ${outcome.status}: ${outcome.message}`);
    const { trained_tokens: tokens, train_runtime_s: trainSeconds } = done.summary;
    samples.get(contestant.name)!.push({ tokens, trainSeconds, wallSeconds, tokensPerSecond: tokens / trainSeconds });
    process.stderr.write(`round ${round + 1}/${rounds} ${contestant.name}: ${(tokens / trainSeconds).toFixed(0)} tokens/s, ${wallSeconds.toFixed(1)} s wall\n`);
  }
}

const pooled = (name: string) => {
  const list = samples.get(name) ?? [];
  const tokens = list.reduce((sum, sample) => sum + sample.tokens, 0);
  const train = list.reduce((sum, sample) => sum + sample.trainSeconds, 0);
  const wall = list.reduce((sum, sample) => sum + sample.wallSeconds, 0);
  return { tokensPerSecond: tokens / train, overheadSeconds: (wall - train) / list.length, wallSeconds: wall / list.length };
};
const baseline = pooled("local-1").tokensPerSecond;
console.log(
  `\nbench/distributed: tiny Llama, ${steps} steps of batch ${batchSize} (micro-batch ${microBatchSize}, max_seq_len 64), ${rounds} round(s), ${cpus().length} cores (${cpus()[0]?.model ?? "?"})`,
);
console.log(`${"contestant".padEnd(18)}${"processes".padStart(10)}${"tokens/s".padStart(11)}${"scaling".padStart(9)}${"wall s".padStart(9)}${"overhead s".padStart(12)}`);
for (const contestant of contestants) {
  const figures = pooled(contestant.name);
  const scaling = Number.isFinite(baseline) ? (figures.tokensPerSecond / baseline).toFixed(2) : "-";
  console.log(
    `${contestant.name.padEnd(18)}${String(contestant.processes).padStart(10)}${figures.tokensPerSecond.toFixed(0).padStart(11)}${`${scaling}x`.padStart(9)}${figures.wallSeconds.toFixed(1).padStart(9)}${figures.overheadSeconds.toFixed(1).padStart(12)}`,
  );
}
const torchrun = samples.has("local-torchrun-2") ? pooled("local-torchrun-2").tokensPerSecond : NaN;
for (const name of ["ray-2", "slurm-2"]) {
  if (samples.has(name) && Number.isFinite(torchrun)) console.log(`${name} / local-torchrun-2 tokens/s: ${(pooled(name).tokensPerSecond / torchrun).toFixed(2)}`);
}

for (const contestant of contestants) {
  await contestant.backend.close?.();
  contestant.stop?.();
}
rmSync(scratch, { recursive: true, force: true });
