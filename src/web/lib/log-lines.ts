/**
 * A job's log as lines with a level, for filtering: the worker prefixes its own lines with
 * `[tunekit-worker] <level>:`; Python tracebacks and library warnings are recognised by their
 * words. Lines arrive as text chunks that may end mid-line.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogLine {
  level: LogLevel;
  text: string;
}

const WORKER_PREFIX = /^\[tunekit-worker\] (debug|info|warn|warning|error)\b/i;

export function levelOf(text: string): LogLevel {
  const prefixed = WORKER_PREFIX.exec(text);
  if (prefixed) {
    const level = (prefixed[1] as string).toLowerCase();
    return level === "warning" ? "warn" : (level as LogLevel);
  }
  if (/\b(Traceback|Error|Exception|error:)\b/.test(text)) return "error";
  if (/\b(Warning|warning|warn|UserWarning|FutureWarning|DeprecationWarning)\b/.test(text)) return "warn";
  return "info";
}

export class LogBuffer {
  readonly lines: LogLine[] = [];
  private partial = "";
  version = 0;

  /** Add a chunk of text; complete lines become entries, a trailing partial line waits. */
  append(text: string): void {
    const parts = (this.partial + text).split(/\r?\n/);
    this.partial = parts.pop() ?? "";
    for (const part of parts) this.lines.push({ level: levelOf(part), text: part });
    if (parts.length > 0) this.version += 1;
  }

  /** The indexes of lines at the given levels that contain `query` (case-insensitive). */
  filter(levels: ReadonlySet<LogLevel>, query: string): number[] {
    const needle = query.trim().toLowerCase();
    const out: number[] = [];
    for (let index = 0; index < this.lines.length; index++) {
      const line = this.lines[index] as LogLine;
      if (!levels.has(line.level)) continue;
      if (needle && !line.text.toLowerCase().includes(needle)) continue;
      out.push(index);
    }
    return out;
  }
}
