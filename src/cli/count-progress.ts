import { SingleBar } from "cli-progress";

/** Seconds between progress lines when stderr is not a terminal (env TUNEKIT_PROGRESS_INTERVAL_S overrides). */
export const DEFAULT_PROGRESS_INTERVAL_S = 5;
/** A count that ends sooner shows nothing on a terminal (no flicker for small files). */
const TERMINAL_DELAY_MS = 500;

function intervalMs(): number {
  const value = Number(process.env.TUNEKIT_PROGRESS_INTERVAL_S);
  return Number.isFinite(value) && value > 0 ? value * 1000 : DEFAULT_PROGRESS_INTERVAL_S * 1000;
}

function rate(count: number, elapsedMs: number): string {
  return elapsedMs > 0 ? String(Math.round((count * 1000) / elapsedMs)) : "-";
}

/**
 * Progress of a long token count (`data stats`, `estimate`), always on stderr, never on stdout (so
 * `--json` stays one document): a live counter on a terminal, otherwise one line every few seconds
 * (not one per example), and a closing line when any was printed. Short counts print nothing.
 */
export class CountProgress {
  private readonly started = Date.now();
  private readonly tty = Boolean(process.stderr.isTTY);
  private readonly every = intervalMs();
  private lastLine = this.started;
  private printed = false;
  private bar: SingleBar | null = null;
  private count = 0;

  constructor(private readonly label: string) {}

  /** Records read so far; cheap enough to call for every record. */
  readonly update = (recordsRead: number): void => {
    this.count = recordsRead;
    const now = Date.now();
    if (this.tty) {
      if (this.bar) {
        this.bar.update(recordsRead, { rate: rate(recordsRead, now - this.started) });
      } else if (now - this.started >= TERMINAL_DELAY_MS) {
        this.bar = new SingleBar({
          stream: process.stderr,
          format: `${this.label}: {value} records read | {rate} per second | {duration_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
          gracefulExit: true,
          fps: 10,
        });
        this.bar.start(0, recordsRead, { rate: rate(recordsRead, now - this.started) });
      }
      return;
    }
    if (now - this.lastLine >= this.every) {
      this.lastLine = now;
      this.printed = true;
      process.stderr.write(`${this.label}: ${recordsRead} records read (${rate(recordsRead, now - this.started)} per second, ${((now - this.started) / 1000).toFixed(0)} s)\n`);
    }
  };

  /** End the display (the bar is cleared; a log gets its closing line). */
  stop(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
    if (this.printed) {
      const elapsed = Date.now() - this.started;
      process.stderr.write(`${this.label}: done, ${this.count} records in ${(elapsed / 1000).toFixed(1)} s\n`);
      this.printed = false;
    }
  }
}
