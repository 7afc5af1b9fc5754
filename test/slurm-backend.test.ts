import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executionSchema, raySettingsSchema, slurmSettingsSchema } from "../src/core/config-schema.js";
import { TunekitError } from "../src/core/errors.js";
import { ClusterExecutionBackend, clusterSubmissionOf, engineKeyOf } from "../src/providers/cluster/cluster-execution-backend.js";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { RayEngine } from "../src/providers/ray/ray-engine.js";
import { SlurmEngine } from "../src/providers/slurm/slurm-engine.js";
import { startServer } from "../src/server/tunekit-server.js";
import { latestCompleteCheckpoint, RUN_FILES } from "../src/spec/run-folder.js";
import type { RunOutcome } from "../src/spec/execution-backend.js";
import type { WorkerEvent } from "../src/spec/worker-events.js";
import { conformanceData, conformanceRequest, describeBackendConformance, lossCurve, type ConformanceTarget } from "./helpers/execution-backend-conformance.js";
import { untilEvent } from "./helpers/until-event.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

// The Slurm backend on a real Slurm cluster: scripts/slurm-cluster.sh starts munged, slurmctld and
// two slurmd nodes (tk1, tk2), each in a network namespace of its own (own hostname and address),
// so that torchrun's rendezvous and gloo cross a network as on two machines. Needs root and the apt
// packages slurm-wlm and munge (the script installs them when missing); skipped without root or
// without the worker's venv.
const script = resolve("scripts/slurm-cluster.sh");
const root = process.getuid?.() === 0;
const runs = haveWorker && root && process.env.TUNEKIT_TEST_SLURM !== "0";
const slurmDir = process.env.TUNEKIT_SLURM_DIR ?? "/tmp/tunekit-slurm";
const env = { SLURM_CONF: join(slurmDir, "slurm.conf") };
const cluster = (...args: string[]) =>
  execFileSync("bash", [script, ...args], { env: { ...process.env, TUNEKIT_SLURM_DIR: slurmDir }, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });

const scratch = mkdtempSync(join(tmpdir(), "tunekit-slurm-conformance-"));
const backendOptions = { pollIntervalMs: 500, startTimeoutMs: 240_000, stopTimeoutMs: 20_000, settleMs: 2000 };
const engineOf = (settings: Record<string, unknown> = {}, extraEnv: Record<string, string> = {}) =>
  new SlurmEngine(slurmSettingsSchema.parse({ partition: "tunekit", nodes: 2, processes_per_node: 1, socket_ifname: "tk0", time_limit: "00:30:00", ...settings }), {
    python,
    workerRoot,
    env: { ...env, ...extraEnv },
  });
const engine = engineOf();
const backend = new ClusterExecutionBackend(engine, backendOptions);
const target: ConformanceTarget = {
  backend,
  name: "slurm",
  processes: 2,
  scratch,
  refused: [
    { label: "unknown partition", backend: new ClusterExecutionBackend(engineOf({ partition: "no-such-partition" }), backendOptions), field: "execution.slurm.partition" },
    { label: "more nodes than the partition has", backend: new ClusterExecutionBackend(engineOf({ nodes: 3 }), backendOptions), field: "execution.slurm.nodes" },
  ],
};

beforeAll(() => {
  if (runs) cluster("start");
}, 300_000);

afterAll(async () => {
  await backend.close();
  if (runs) cluster("stop");
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

describe.runIf(runs)("slurm backend", () => {
  describeBackendConformance("slurm", () => target);

  it("trains across two nodes (two hosts, world size 2) to the same loss curve as a 2-process torchrun here", async () => {
    const events: WorkerEvent[] = [];
    const outcome = await backend.launch(conformanceRequest(target, "slurm-curve"), (event) => events.push(event)).finished;
    expect(outcome.status, outcome.message).toBe("succeeded");
    const started = events.find((event) => event.type === "started");
    expect(started).toMatchObject({ world_size: 2 });
    const nodes = started?.type === "started" ? (started.nodes ?? []) : [];
    expect(new Set(nodes.map((node) => node.host))).toEqual(new Set(["tk1", "tk2"]));
    expect(new Set(nodes.map((node) => node.node_id))).toEqual(new Set(["tk1", "tk2"]));

    const local = new LocalExecutionBackend();
    const localEvents: WorkerEvent[] = [];
    const localOutcome = await local.launch(conformanceRequest(target, "local-curve"), (event) => localEvents.push(event)).finished;
    await local.close();
    expect(localOutcome.status, localOutcome.message).toBe("succeeded");
    const slurmCurve = lossCurve(events);
    const localCurve = lossCurve(localEvents);
    expect(slurmCurve.map(([step]) => step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(localCurve.map(([step]) => step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const [index, [, loss]] of slurmCurve.entries()) expect(Math.abs(loss - localCurve[index]![1])).toBeLessThanOrEqual(1e-5);
  }, 300_000);

  it("refuses a second submission of the same engine key (kind conflict)", async () => {
    const request = conformanceRequest(target, "slurm-resubmit", { max_steps: 2 });
    const submission = clusterSubmissionOf(request);
    const jobId = await engine.submit(submission);
    try {
      const second = await engine.submit(submission).then(
        () => null,
        (error: unknown) => error,
      );
      expect(second).toBeInstanceOf(TunekitError);
      expect((second as TunekitError).kind).toBe("conflict");
      expect(await engine.find(submission.engineKey)).toBe(jobId);
    } finally {
      await engine.stop(jobId);
    }
    // a job that already ended stops without an error
    await expect.poll(async () => (await engine.status(jobId)).state, { timeout: 60_000, interval: 500 }).toMatch(/stopped|succeeded|failed/);
    await engine.stop(jobId);
  }, 120_000);

  it("a lost node fails the attempt as retryable; the next attempt resumes from the newest marked checkpoint", async () => {
    const events: WorkerEvent[] = [];
    const first = conformanceRequest(target, "slurm-lost-node", { max_steps: 300, checkpoint_every: 2 });
    const handle = backend.launch(first, (event) => events.push(event));
    await untilEvent(events, (event) => event.type === "checkpoint");
    cluster("kill-node", "tk2");
    let outcome: RunOutcome;
    try {
      outcome = await handle.finished;
    } finally {
      cluster("start-node", "tk2");
    }
    expect(outcome, outcome.message).toMatchObject({ status: "failed", retryable: true });
    expect(events.some((event) => event.type === "done")).toBe(false);

    const checkpoint = latestCompleteCheckpoint(first.runDir);
    expect(checkpoint).not.toBeNull();
    // as the scheduler does before it launches a job again: the next attempt's journal starts afresh
    renameSync(join(first.runDir, RUN_FILES.journal), join(first.runDir, RUN_FILES.retiredJournal));
    const resumedEvents: WorkerEvent[] = [];
    const resumed = await backend.launch(
      conformanceRequest(target, "slurm-lost-node", { max_steps: checkpoint!.step + 2, checkpoint_every: 2 }, checkpoint!.path, first.runDir, 2),
      (event) => resumedEvents.push(event),
    ).finished;
    expect(resumed.status, resumed.message).toBe("succeeded");
    expect(resumedEvents.find((event) => event.type === "started")).toMatchObject({ resumed_from: checkpoint!.path });
    expect(lossCurve(resumedEvents)[0]?.[0]).toBe(checkpoint!.step + 1);
  }, 300_000);

  it("runs the Slurm commands on the login node over ssh (execution.slurm.ssh and ssh_options): an attempt submitted there trains, and a login node that cannot be reached is named", async () => {
    // the cluster's login node: a real OpenSSH server in the controller's namespace, root with the cluster's key
    const login = "root@10.77.0.2";
    const sshOptions = cluster("ssh-options").trim().split("\n");
    const viaSsh = engineOf({ ssh: login, ssh_options: sshOptions });
    await viaSsh.check(2);
    expect(await viaSsh.find("tunekit-no-such-attempt")).toBeNull();
    await expect(engineOf({ ssh: login, ssh_options: sshOptions, partition: "no-such-partition" }).check(2)).rejects.toMatchObject({ field: "execution.slurm.partition" });

    // a whole attempt through the login node: sbatch, squeue and the end of the job all over ssh
    const sshLog = join(slurmDir, "ssh", "sshd.log");
    const logins = () => (readFileSync(sshLog, "utf8").match(/Accepted publickey for root from 10\.77\.0\.1/g) ?? []).length;
    const before = logins();
    const events: WorkerEvent[] = [];
    const request = conformanceRequest(target, "slurm-over-ssh", { max_steps: 2 });
    const outcome = await new ClusterExecutionBackend(viaSsh, backendOptions).launch(request, (event) => events.push(event)).finished;
    expect(outcome.status, outcome.message).toBe("succeeded");
    expect(lossCurve(events).map(([step]) => step)).toEqual([1, 2]);
    expect(logins() - before).toBeGreaterThanOrEqual(3);
    // the job ran on the cluster's nodes, submitted from the login node (its hostname is tkctl)
    const started = events.find((event) => event.type === "started");
    expect(started?.type === "started" ? new Set((started.nodes ?? []).map((node) => node.host)) : null).toEqual(new Set(["tk1", "tk2"]));

    // nothing listens on port 2 of the login node; a key it does not take; no Slurm commands here and no login node
    const refused = await engineOf({ ssh: login, ssh_options: [...sshOptions, "-p", "2"] })
      .check(2)
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ field: "execution.slurm.ssh", kind: "environment" });
    expect((refused as TunekitError).message).toMatch(/root@10\.77\.0\.2.*(refused|port 2)/);
    const otherKey = join(scratch, "other-key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
    const withoutKey = sshOptions.map((option) => (option.endsWith("id_ed25519") ? otherKey : option));
    await expect(engineOf({ ssh: login, ssh_options: withoutKey }).check(2)).rejects.toMatchObject({
      field: "execution.slurm.ssh",
      message: expect.stringMatching(/Permission denied/),
    });
    await expect(engineOf({}, { PATH: join(scratch, "empty-bin") }).check(2)).rejects.toMatchObject({ field: "execution.slurm.ssh" });
  }, 180_000);

  it("a Ray address off this machine (a Jobs API stand-in in the controller's namespace) gets no request without a token; allow_unauthenticated_remote or a token lets it through", async () => {
    // the stand-in answers like a Jobs API with token auth and writes down every request it gets, with its Authorization header
    const requests = join(scratch, "ray-standin-requests.txt");
    const standIn = spawn(
      "ip",
      [
        "netns",
        "exec",
        "tkslurm-tkctl",
        "python3",
        "-c",
        `
import http.server, json, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization") or "-"
        with open(sys.argv[1], "a") as log:
            log.write(f"{self.path} {auth}\\n")
        if auth != "Bearer s3cret":
            body, status = b"missing or bad token", 401
        elif self.path == "/api/version":
            body, status = json.dumps({"ray_version": "2.60.0"}).encode(), 200
        else:
            node = {"node_id": "n1", "node_ip": "10.77.0.2", "state": "ALIVE", "resources_total": {"CPU": 1}}
            body, status = json.dumps({"data": {"result": {"result": [node]}}}).encode(), 200
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("10.77.0.2", 18265), Handler)
print("ready", flush=True)
server.serve_forever()
`,
        requests,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((ready, fail) => {
        standIn.stdout!.once("data", () => ready());
        standIn.once("exit", (code) => fail(new Error(`the Jobs API stand-in exited with ${code}`)));
      });
      const seen = () => (existsSync(requests) ? readFileSync(requests, "utf8").trim().split("\n").filter(Boolean) : []);
      const rayAt = (settings: Record<string, unknown>, environment: NodeJS.ProcessEnv = {}) =>
        new RayEngine(raySettingsSchema.parse({ address: "http://10.77.0.2:18265", num_workers: 1, ...settings }), { python, workerRoot, environment });

      const refused = await rayAt({})
        .check(1)
        .catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: "ray_token_required", field: "execution.ray.token_env" });
      expect((refused as TunekitError).message).toMatch(/without a token: a Ray Jobs API without auth runs any command/);
      expect((refused as TunekitError).fix).toMatch(/allow_unauthenticated_remote/);
      await expect(rayAt({}).submit(clusterSubmissionOf(conformanceRequest(target, "ray-remote-no-token")))).rejects.toMatchObject({
        code: "ray_token_required",
      });
      expect(seen()).toEqual([]);

      // told the network is private: the request goes, without a token, and this cluster says no
      await expect(rayAt({ allow_unauthenticated_remote: true }).check(1)).rejects.toMatchObject({ code: "ray_unauthorized", field: "execution.ray.token_env" });
      expect(seen()).toEqual(["/api/version -"]);

      // with the token from token_env it passes, as a bearer token on every request
      await rayAt({ token_env: "TUNEKIT_TEST_RAY_TOKEN" }, { TUNEKIT_TEST_RAY_TOKEN: "s3cret" }).check(1);
      expect(seen().slice(1)).toEqual(["/api/version Bearer s3cret", "/api/v0/nodes?limit=1000&detail=true Bearer s3cret"]);
    } finally {
      standIn.kill();
    }
  }, 60_000);

  it('a job the openai Python SDK creates with `extra_body={"tunekit": {"execution": {"backend": "slurm"}}}` trains on both nodes, and the job it retrieves says so', async () => {
    const model = join(scratch, "tiny-llama");
    buildTinyLlama(model);
    // the server finds the cluster as a user's shell does: SLURM_CONF in its environment
    const previous = process.env.SLURM_CONF;
    process.env.SLURM_CONF = env.SLURM_CONF;
    const server = await startServer({
      port: 0,
      dataDir: join(scratch, "server"),
      noAuth: true,
      models: [model],
      maxConcurrentJobs: 1,
      trainingDefaults: { device: "cpu", max_steps: 3, threads: 1, batch_size: 4, micro_batch_size: 2 },
      maxSeqLen: 64,
      execution: executionSchema.parse({
        backend: "local",
        slurm: { partition: "tunekit", nodes: 2, processes_per_node: 1, socket_ifname: "tk0", time_limit: "00:30:00", poll_interval_s: 0.5 },
      }),
    });
    try {
      const { stdout } = await promisify(execFile)(python, [resolve("test/python/cluster_job.py"), server.url, "tiny-llama", conformanceData(join(scratch, "data")), "slurm"], {
        timeout: 280_000,
        maxBuffer: 16 << 20,
      });
      const { job, events } = JSON.parse(stdout) as {
        job: { status: string; error: unknown; execution: { backend: string; nodes: string[] }; fine_tuned_model: string };
        events: string[];
      };
      expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
      expect(job.execution.backend).toBe("slurm");
      expect([...job.execution.nodes].sort()).toEqual(["tk1", "tk2"]);
      expect(job.fine_tuned_model).toMatch(/^ft:tiny-llama:/);
      expect(events.at(-1)).toBe("The job has successfully completed");
      expect(events.some((message) => /Training started .* with 2 processes/.test(message))).toBe(true);
    } finally {
      await server.close();
      if (previous === undefined) delete process.env.SLURM_CONF;
      else process.env.SLURM_CONF = previous;
    }
  }, 300_000);
  it("kill -9 of the server while its Slurm job trains: the next server stops the job it left, after a checkpoint, before it resumes the job as attempt 2 from that checkpoint, and the job succeeds", async () => {
    const model = join(scratch, "tiny-llama");
    if (!existsSync(join(model, "config.json"))) buildTinyLlama(model);
    const dataDir = join(scratch, "crash-server");
    // the real CLI in a child process, so that it can die as a crashed server does
    const startCliServer = async () => {
      const settings = [
        "execution.backend=slurm",
        "execution.slurm.partition=tunekit",
        "execution.slurm.nodes=2",
        "execution.slurm.processes_per_node=1",
        "execution.slurm.socket_ifname=tk0",
        "execution.slurm.time_limit=00:30:00",
        "execution.slurm.poll_interval_s=0.5",
        "execution.slurm.stop_timeout_s=60",
        "training.device=cpu",
        "training.max_steps=150",
        "training.checkpoint_every=1000",
        "training.threads=1",
        "training.batch_size=4",
        "training.micro_batch_size=2",
        "data.max_seq_len=64",
      ];
      const args = ["dist/cli/main.js", "server", "--port", "0", "--json", "--no-auth", "--data-dir", dataDir, "--model", model, "--no-fork-server"];
      for (const setting of settings) args.push("--set", setting);
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SLURM_CONF: env.SLURM_CONF } });
      let stdout = "";
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const started = await new Promise<{ url: string; recovered: { waiting: string[] } }>((done, fail) => {
        child.stdout!.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
          try {
            done(JSON.parse(stdout) as { url: string; recovered: { waiting: string[] } });
          } catch {
            // not all of it yet
          }
        });
        child.on("exit", (code) => fail(new Error(`tunekit server exited ${code}: ${stderr}`)));
      });
      return { child, client: new OpenAI({ baseURL: `${started.url}/v1`, apiKey: "unused", maxRetries: 0 }), recovered: started.recovered };
    };
    const servers: ChildProcess[] = [];
    try {
      const first = await startCliServer();
      servers.push(first.child);
      const file = await first.client.files.create({ file: await toFile(readFileSync(conformanceData(join(scratch, "data"))), "train.jsonl"), purpose: "fine-tune" });
      const job = await first.client.fineTuning.jobs.create({ model: "tiny-llama", training_file: file.id, hyperparameters: { n_epochs: 50 } });
      const runDir = join(dataDir, "runs", job.id);
      const firstKey = engineKeyOf(`${job.id}/1`);
      await expect
        .poll(
          async () => {
            const page = await first.client.fineTuning.jobs.listEvents(job.id, { limit: 100 });
            return Math.max(0, ...page.data.filter((event) => event.type === "metrics").map((event) => (event.data as { step: number }).step));
          },
          { timeout: 240_000, interval: 500 },
        )
        .toBeGreaterThanOrEqual(2);
      first.child.kill("SIGKILL");
      await new Promise((done) => first.child.once("exit", done));

      // the Slurm job does not know its server died: it trains on
      const firstJobId = await engine.find(firstKey);
      expect(firstJobId).not.toBeNull();
      expect((await engine.status(firstJobId!)).state).toBe("running");

      const second = await startCliServer();
      servers.push(second.child);
      expect(second.recovered.waiting).toEqual([job.id]);
      // attempt 2 is submitted only once attempt 1 has ended on Slurm: never two attempts in one run folder
      await expect.poll(() => existsSync(join(runDir, "attempts", "2.json")), { timeout: 240_000, interval: 200 }).toBe(true);
      expect(["stopped", "failed", "succeeded"]).toContain((await engine.status(firstJobId!)).state);
      let current = await second.client.fineTuning.jobs.retrieve(job.id);
      for (let tries = 0; tries < 480 && !["succeeded", "failed", "cancelled"].includes(current.status); tries++) {
        await new Promise((done) => setTimeout(done, 500));
        current = await second.client.fineTuning.jobs.retrieve(job.id);
      }
      expect(current.status, JSON.stringify(current.error)).toBe("succeeded");
      const messages: string[] = [];
      for await (const event of second.client.fineTuning.jobs.listEvents(job.id, { limit: 100 })) messages.push(event.message);
      // through Slurm, as on a cluster whose nodes are other hosts (here the ranks' processes are also
      // on this host, where the local /proc scan would SIGTERM them; the event shows the engine's path ran)
      expect(messages.some((message) => message.startsWith(`Stopping slurm job ${firstJobId} (attempt ${job.id}/1), left training by a server that stopped`))).toBe(true);
      // attempt 2 went on from the checkpoint attempt 1 wrote when it was asked to stop, not from the start
      const journal = readFileSync(join(runDir, RUN_FILES.journal), "utf8");
      const resumed = journal.split("\n").find((line) => line.includes('"type": "started"') || line.includes('"type":"started"'));
      expect(resumed).toMatch(/"resumed_from": ?"[^"]*checkpoint/);
    } finally {
      for (const child of servers) if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 420_000);
});
