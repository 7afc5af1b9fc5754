/**
 * A job's metrics events (OpenAI's `type: "metrics"` events with `data.step`) as columns for
 * charts: one row per optimizer step, the training metrics and the validation metrics of that step
 * in one row, with the epoch and the wall time. Appending is O(1); a step seen again (a resumed run
 * trains it again) overwrites its row.
 */
export const METRICS = [
  "train_loss",
  "valid_loss",
  "full_valid_loss",
  "train_mean_token_accuracy",
  "valid_mean_token_accuracy",
  "full_valid_mean_token_accuracy",
  "learning_rate",
  "tokens_per_second",
] as const;

export type Metric = (typeof METRICS)[number];

export interface MetricsEventLike {
  created_at: number;
  type: string;
  data?: Record<string, unknown> | null;
}

export class MetricSeries {
  readonly step: number[] = [];
  readonly epoch: Array<number | null> = [];
  /** seconds since the first metrics event */
  readonly time: number[] = [];
  readonly values: Record<Metric, Array<number | null>> = Object.fromEntries(METRICS.map((metric) => [metric, [] as Array<number | null>])) as Record<Metric, Array<number | null>>;
  totalSteps: number | null = null;
  /** bumped on every change (charts redraw when it moves) */
  version = 0;
  private readonly rows = new Map<number, number>();
  private startTime: number | null = null;

  get length(): number {
    return this.step.length;
  }

  /** Add one event; false when it carries no metrics. */
  add(event: MetricsEventLike): boolean {
    const data = event.data;
    if (event.type !== "metrics" || !data || typeof data.step !== "number") return false;
    this.startTime ??= event.created_at;
    const row = this.rowFor(data.step, event.created_at - this.startTime);
    if (typeof data.epoch === "number") this.epoch[row] = data.epoch;
    if (typeof data.total_steps === "number") this.totalSteps = data.total_steps;
    for (const metric of METRICS) {
      const value = data[metric];
      if (typeof value === "number" && Number.isFinite(value)) this.values[metric][row] = value;
    }
    this.version += 1;
    return true;
  }

  /** The newest value of a metric, or null. */
  latest(metric: Metric): number | null {
    const column = this.values[metric];
    for (let index = column.length - 1; index >= 0; index--) {
      const value = column[index];
      if (value !== null && value !== undefined) return value;
    }
    return null;
  }

  /** Validation evaluations in step order (for the overfitting hint). */
  evaluations(metric: "valid_loss" | "full_valid_loss" = "valid_loss"): Array<{ step: number; validLoss: number }> {
    const out: Array<{ step: number; validLoss: number }> = [];
    const column = this.values[metric];
    for (let index = 0; index < this.step.length; index++) {
      const value = column[index];
      if (value !== null && value !== undefined) out.push({ step: this.step[index] as number, validLoss: value });
    }
    return out;
  }

  private rowFor(step: number, time: number): number {
    const existing = this.rows.get(step);
    if (existing !== undefined) return existing;
    let index = this.step.length;
    if (index > 0 && (this.step[index - 1] as number) > step) {
      // out of order (rare): insert in place and renumber the rows after it
      index = this.step.findIndex((value) => value > step);
      this.step.splice(index, 0, step);
      this.epoch.splice(index, 0, null);
      this.time.splice(index, 0, time);
      for (const metric of METRICS) this.values[metric].splice(index, 0, null);
      for (const [key, row] of this.rows) if (row >= index) this.rows.set(key, row + 1);
    } else {
      this.step.push(step);
      this.epoch.push(null);
      this.time.push(time);
      for (const metric of METRICS) this.values[metric].push(null);
    }
    this.rows.set(step, index);
    // an evaluation row takes the epoch of the training row of the same step, or of the one before
    if (index > 0 && this.epoch[index] === null) this.epoch[index] = this.epoch[index - 1] ?? null;
    return index;
  }
}
