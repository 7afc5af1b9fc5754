import { statSync } from "node:fs";
import { join } from "node:path";
import { RUN_FILES } from "../../spec/run-folder.js";
import { parseWorkerEvent, type WorkerEvent } from "../../spec/worker-events.js";
import { readFileFrom } from "../../core/read-file-from.js";

/** The most one read takes in; the rest waits for the next read. */
const READ_CHUNK = 1 << 20;

/**
 * Reads a run's event journal (`<run_dir>/event-journal.jsonl`, written by the rank-0 worker on
 * storage every node shares) as it grows: each call returns the events of the complete lines
 * appended since the last one. Events are numbered by their line in the journal; a line is handed
 * out once, when its newline is there, so a line being written or a repeated read never counts an
 * event twice. A journal that shrank (retired and started afresh) is read from its start again.
 */
export class JournalTail {
  /** lines handed out so far: the next event's number */
  lineCount = 0;
  unreadableLines = 0;

  /** `offset`: where this attempt's events start (the journal's size when it was submitted; earlier attempts' events come before) */
  constructor(
    private readonly runDir: string,
    private offset = 0,
  ) {}

  get path(): string {
    return join(this.runDir, RUN_FILES.journal);
  }

  /** the journal's size now (0 when there is none): where the events of an attempt submitted now start */
  size(): number {
    try {
      return statSync(this.path).size;
    } catch {
      return 0;
    }
  }

  read(): WorkerEvent[] {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return [];
    }
    if (size < this.offset) this.offset = 0;
    if (size === this.offset) return [];
    const text = readFileFrom(this.path, this.offset, Math.min(size - this.offset, READ_CHUNK));
    const end = text.lastIndexOf(0x0a);
    if (end < 0) return [];
    this.offset += end + 1;
    const events: WorkerEvent[] = [];
    for (const line of text.subarray(0, end).toString("utf8").split("\n")) {
      this.lineCount += 1;
      if (line.trim() === "") continue;
      try {
        events.push(parseWorkerEvent(line));
      } catch {
        this.unreadableLines += 1;
      }
    }
    return events;
  }
}
