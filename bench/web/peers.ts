// Starts a peer fine-tuning web UI from its venv (made by bench/web/setup-peers.sh) on a free loopback
// port, offline, and says how to tell that its first screen is rendered.
//
// AutoTrain reads the Hugging Face Hub while it starts (fetch_models() lists models for every task) and
// for every page (HF_TOKEN is checked against /api/whoami-v2). With HF_HUB_OFFLINE=1 it cannot start:
// "huggingface_hub.errors.OfflineModeIsEnabled: Cannot reach https://huggingface.co/api/models?...".
// So it gets a stand-in Hub on 127.0.0.1 (HF_ENDPOINT and HF_API point there, HF_TOKEN is a dummy) that
// lists a few model names and accepts the token; nothing else about the app changes.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type PeerName = "autotrain" | "llamaboard";

export interface RunningPeer {
  url: string;
  readySelector?: string;
  readyText?: string;
  /** From spawning the process to its first HTTP answer. */
  startMs: number;
  stop(): Promise<void>;
}

export const peersDirectory = process.env.PEERS_DIR ?? "/tmp/tunekit-web-peers";
const startTimeoutMs = 180_000;

const offlineEnvironment: Record<string, string> = {
  HF_HUB_OFFLINE: "1",
  HF_DATASETS_OFFLINE: "1",
  TRANSFORMERS_OFFLINE: "1",
  HF_HUB_DISABLE_TELEMETRY: "1",
  GRADIO_ANALYTICS_ENABLED: "False",
  DO_NOT_TRACK: "1",
  BROWSER: "true", // llamafactory-cli webui calls launch(inbrowser=True): let it "open" /bin/true
  PYTHONUNBUFFERED: "1",
};

interface PeerLaunch {
  command: string[];
  environment: Record<string, string>;
  readySelector?: string;
  readyText?: string;
  cleanup?: () => Promise<void>;
}

const launches: Record<PeerName, { venv: string; prepare(port: number): Promise<PeerLaunch> }> = {
  autotrain: {
    venv: "autotrain",
    async prepare(port) {
      const hub = await startStandInHub();
      return {
        // What `autotrain app --host 127.0.0.1 --port N` runs, minus its wrapper: that one starts uvicorn
        // through `sh -c` in a new session (needs the venv's bin on PATH), which a process-group kill misses.
        command: ["uvicorn", "autotrain.app.app:app", "--host", "127.0.0.1", "--port", String(port), "--workers", "1"],
        environment: { HF_HUB_OFFLINE: "0", TRANSFORMERS_OFFLINE: "0", HF_ENDPOINT: hub.url, HF_API: hub.url, HF_TOKEN: "hf_tunekit_bench_dummy" },
        readySelector: "#dynamic-ui input",
        cleanup: () => new Promise((resolve) => hub.server.close(() => resolve())),
      };
    },
  },
  llamaboard: {
    venv: "llamafactory",
    async prepare(port) {
      return {
        command: ["llamafactory-cli", "webui"],
        environment: { GRADIO_SERVER_NAME: "127.0.0.1", GRADIO_SERVER_PORT: String(port), GRADIO_SHARE: "0" },
        // The title is filled in by the app's load event (engine.resume, then change_lang sets every label).
        readySelector: "h1",
        readyText: "LLaMA Factory",
      };
    },
  },
};

export async function startPeer(name: PeerName): Promise<RunningPeer | { unavailable: string }> {
  const launch = launches[name];
  const venv = join(peersDirectory, launch.venv);
  if (!existsSync(join(venv, ".complete"))) {
    return { unavailable: `${name} is not installed: ${venv} is missing or incomplete (run bash bench/web/setup-peers.sh).` };
  }
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}/`;
  const peer = await launch.prepare(port);
  const workDirectory = await mkdtemp(join(tmpdir(), `tunekit-peer-${name}-`)); // both write logs, a db, caches into the cwd
  const [program, ...programArguments] = peer.command;
  const started = Date.now();
  const child = spawn(join(venv, "bin", program!), programArguments, {
    cwd: workDirectory,
    detached: true, // own process group, so stop() reaches every worker it forks
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PATH: `${join(venv, "bin")}:${process.env.PATH ?? ""}`, ...offlineEnvironment, ...peer.environment },
  });
  let output = "";
  const keepTail = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
  child.stdout.on("data", keepTail);
  child.stderr.on("data", keepTail);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.on("exit", () => ((exited = true), resolve())));

  const stop = async () => {
    if (!exited && child.pid) {
      process.kill(-child.pid, "SIGTERM");
      const killer = setTimeout(() => child.pid && process.kill(-child.pid, "SIGKILL"), 10_000);
      await exit;
      clearTimeout(killer);
    }
    await peer.cleanup?.();
    await rm(workDirectory, { recursive: true, force: true });
  };

  while (!(await answers(url))) {
    if (exited || Date.now() - started > startTimeoutMs) {
      const lastLine =
        output
          .trim()
          .split("\n")
          .filter((line) => line.trim() !== "")
          .at(-1) ?? "no output";
      await stop();
      return {
        unavailable: exited
          ? `${name} exited while starting offline: ${lastLine.trim()}`
          : `${name} did not answer HTTP within ${startTimeoutMs / 1000} s; last output: ${lastLine.trim()}`,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, readySelector: peer.readySelector, readyText: peer.readyText, startMs: Date.now() - started, stop };
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status < 500;
  } catch {
    return false;
  }
}

async function freeLoopbackPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no free loopback port");
  return address.port;
}

/** The two Hub calls AutoTrain makes before it shows a page: model lists and token check. */
async function startStandInHub(): Promise<{ server: Server; url: string }> {
  const models = ["HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "meta-llama/Llama-3.2-1B-Instruct"].map((id, index) => ({
    id,
    modelId: id,
    downloads: 1000 - index,
    likes: 10,
    private: false,
  }));
  const server = createHttpServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://hub").pathname;
    const body = path === "/api/models" ? models : path === "/api/whoami-v2" ? { id: "0", name: "offline-user", orgs: [] } : null;
    response.writeHead(body ? 200 : 404, { "content-type": "application/json" });
    response.end(JSON.stringify(body ?? { error: "not in the stand-in hub" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("stand-in hub has no port");
  return { server, url: `http://127.0.0.1:${address.port}` };
}
