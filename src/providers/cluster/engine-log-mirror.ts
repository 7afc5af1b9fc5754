import { appendFileSync } from "node:fs";
import { join } from "node:path";
import type { ClusterEngine } from "../../spec/cluster-engine.js";
import { RUN_FILES } from "../../spec/run-folder.js";

/** The most lines one read asks the engine for. */
const MAX_LINES = 1_000_000;
/** The most bytes one positioned read takes in (engines with `readLog`). */
const READ_CHUNK = 1 << 20;

/** a worker event on the ranks' stdout (the journal has them; the events panel shows them), after Ray's `(RayTrainWorker pid=...)` prefix */
const EVENT_LINE = /^(\([^)]*\)\s+)?\{"v": ?\d+, ?"type": ?"/;

/**
 * Copies a cluster job's log (Ray's job log, the Slurm job's output file) into the run folder's
 * `worker.log` as it grows, the file a local run's worker writes its stderr to: the job page's
 * worker log and `GET /v1/tunekit/jobs/{id}/log` read that file whichever backend ran the job. An
 * engine's log only grows, so the lines past the ones already copied are the new ones: an engine
 * that reads its log by position (`readLog`, Slurm's output file) is read from the byte after the
 * last copied line, one that cannot (Ray's Jobs API) is read whole and counted by lines. The ranks'
 * event lines are left out (they are the journal's). A failed read is tried again at the next
 * one; the log is a convenience, the journal is the record.
 */
export class EngineLogMirror {
  /** lines copied (engines read whole) */
  private copied = 0;
  /** bytes copied (engines read by position) */
  private offset = 0;
  /** the copy ends inside a line longer than one read (engines read by position) */
  private midLine = false;
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
    const text = this.engine.readLog ? await this.newTextByPosition(final) : await this.newTextByCount(final);
    if (text === "") return;
    const header = this.wroteHeader ? "" : `${this.header}\n`;
    this.wroteHeader = true;
    appendFileSync(this.path, `${header}${text}`);
  }

  private async newTextByCount(final: boolean): Promise<string> {
    const lines = await this.engine.logs(this.engineJobId, MAX_LINES).catch(() => null);
    if (lines === null) return "";
    const complete = final ? lines.length : lines.length - 1;
    if (complete <= this.copied) return "";
    const fresh = lines.slice(this.copied, complete).filter((line) => !EVENT_LINE.test(line));
    this.copied = complete;
    return fresh.map((line) => `${line}\n`).join("");
  }

  private async newTextByPosition(final: boolean): Promise<string> {
    let text = "";
    for (;;) {
      const bytes = await this.engine.readLog!(this.engineJobId, this.offset, READ_CHUNK).catch(() => null);
      if (bytes === null) return text;
      const last = bytes.length < READ_CHUNK;
      const newline = bytes.lastIndexOf(0x0a) + 1;
      // whole lines while the job runs (the one after the last newline may still be being written),
      // everything once it has ended; a whole read without a newline is part of a line longer than a read
      let take = newline;
      if (final && last) take = bytes.length;
      else if (newline === 0) take = last ? 0 : bytes.length;
      const pieces = bytes.subarray(0, take).toString("utf8").split("\n");
      const partial = pieces.pop() ?? ""; // after the last newline
      for (const [index, piece] of pieces.entries()) {
        // a line's first piece is an event line or not; the rest of a long line is copied as it is
        const continued = index === 0 && this.midLine;
        if (continued || !EVENT_LINE.test(piece)) text += `${piece}\n`;
      }
      this.midLine = partial !== "" || (pieces.length === 0 && this.midLine);
      text += partial;
      this.offset += take;
      if (last) {
        if (final && this.midLine) {
          text += "\n";
          this.midLine = false;
        }
        return text;
      }
    }
  }
}
