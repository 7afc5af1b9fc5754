import { appendFileSync } from "node:fs";
import { join } from "node:path";
import type { ClusterEngine } from "../../spec/cluster-engine.js";
import { RUN_FILES } from "../../spec/run-folder.js";

/** The most lines one read asks the engine for. */
const MAX_LINES = 1_000_000;

/** a worker event on the ranks' stdout (the journal has them; the events panel shows them), after Ray's `(RayTrainWorker pid=...)` prefix */
const EVENT_LINE = /^(\([^)]*\)\s+)?\{"v": ?\d+, ?"type": ?"/;

/**
 * Copies a cluster job's log (Ray's job log, the Slurm job's output file) into the run folder's
 * `worker.log` as it grows, the file a local run's worker writes its stderr to: the job page's
 * worker log and `GET /v1/tunekit/jobs/{id}/log` read that file whichever backend ran the job. An
 * engine's log only grows, so the lines past the ones already copied are the new ones; the ranks'
 * event lines are left out (they are the journal's). A failed read is tried again at the next
 * one; the log is a convenience, the journal is the record.
 */
export class EngineLogMirror {
  private copied = 0;
  private lastRead = 0;
  private readonly path: string;
  private wroteHeader = false;

  constructor(
    private readonly engine: ClusterEngine,
    private readonly engineJobId: string,
    runDir: string,
    private readonly header: string,
    /** between reads of the engine's log */
    private readonly everyMs: number,
  ) {
    this.path = join(runDir, RUN_FILES.workerLog);
  }

  /**
   * Read the engine's log when `everyMs` has passed since the last read. While the job runs its
   * last line may still be being written, so it waits for the next read; `final` (the job ended)
   * reads at once and copies everything.
   */
  async update(final = false): Promise<void> {
    const now = Date.now();
    if (!final && now - this.lastRead < this.everyMs) return;
    this.lastRead = now;
    const lines = await this.engine.logs(this.engineJobId, MAX_LINES).catch(() => null);
    if (lines === null) return;
    const complete = final ? lines.length : lines.length - 1;
    if (complete <= this.copied) return;
    const fresh = lines.slice(this.copied, complete).filter((line) => !EVENT_LINE.test(line));
    this.copied = complete;
    if (fresh.length === 0) return;
    const header = this.wroteHeader ? "" : `${this.header}\n`;
    this.wroteHeader = true;
    appendFileSync(this.path, `${header}${fresh.join("\n")}\n`);
  }
}
