import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { RUN_FILES } from "../spec/run-folder.js";

/**
 * Which server runs a job: `<run_dir>/owner.json` names the process and scheduler instance that
 * launched it. Recovery reads it to tell a job whose server died (kill -9, crash, out of memory)
 * from one whose server is alive, without waiting for its heartbeat to go stale.
 */
export const OWNER_FILE = RUN_FILES.owner;

export interface RunOwner {
  hostname: string;
  pid: number;
  /** the Scheduler instance (several servers can live in one process, e.g. in tests) */
  instance: string;
  since: number;
}

/** Scheduler instances of this process that are started and not closed. */
const liveInstances = new Set<string>();

export function registerLiveInstance(instance: string): void {
  liveInstances.add(instance);
}

export function unregisterLiveInstance(instance: string): void {
  liveInstances.delete(instance);
}

export function writeRunOwner(runDir: string, instance: string): void {
  mkdirSync(runDir, { recursive: true });
  const owner: RunOwner = { hostname: hostname(), pid: process.pid, instance, since: Date.now() };
  writeFileSync(join(runDir, OWNER_FILE), `${JSON.stringify(owner)}\n`);
}

export function readRunOwner(runDir: string): RunOwner | null {
  try {
    const owner = JSON.parse(readFileSync(join(runDir, OWNER_FILE), "utf8")) as Partial<RunOwner>;
    if (typeof owner.pid !== "number" || typeof owner.hostname !== "string" || typeof owner.instance !== "string") return null;
    return owner as RunOwner;
  } catch {
    return null;
  }
}

/**
 * Is the owner certainly gone? True for a process on this host that no longer exists (or is a
 * zombie), and for a closed scheduler of this very process. False when it may be alive: a live
 * pid (which may also be a reused one: then the stale heartbeat decides), or another host.
 */
export function ownerIsGone(owner: RunOwner): boolean {
  if (owner.hostname !== hostname()) return false;
  if (owner.pid === process.pid) return !liveInstances.has(owner.instance);
  return processGone(owner.pid);
}

/** The process has exited (a zombie counts: it only waits for its parent to collect it). */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state === "Z" || state === "X";
  } catch {
    // no /proc entry: gone on Linux; elsewhere ask the kernel
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}
