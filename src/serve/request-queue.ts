import { TunekitError } from "../core/errors.js";

export interface RequestQueueOptions {
  /** requests that run at once */
  concurrency: number;
  /** requests that may wait for a slot; one more is refused with `queue_full` (HTTP 429) */
  maxWaiting: number;
}

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/** Thrown when the queue is full; `retryAfterSeconds` becomes the Retry-After header. */
export class QueueFullError extends TunekitError {
  constructor(
    readonly model: string,
    readonly retryAfterSeconds: number,
  ) {
    super(`too many requests for model \`${model}\`: every slot is busy and the queue is full`, {
      kind: "rate_limited",
      code: "rate_limit_exceeded",
      field: "model",
      fix: `retry after ${retryAfterSeconds} s (the Retry-After header), or start the server with a larger \`--max-queue\``,
    });
    this.name = "QueueFullError";
  }
}

/**
 * A bounded FIFO of requests for one model: `concurrency` run, `maxWaiting` wait, the rest are refused
 * at once. A waiter whose signal aborts leaves the queue; a released slot goes to the next waiter.
 */
export class RequestQueue {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  /** exponential moving average of how long a slot is held, for Retry-After */
  private averageHoldMs = 1000;

  constructor(
    readonly model: string,
    private readonly options: RequestQueueOptions,
  ) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Wait for a slot; the returned function releases it (idempotent). */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.running < this.options.concurrency) {
      this.running += 1;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.options.maxWaiting) return Promise.reject(new QueueFullError(this.model, this.retryAfterSeconds()));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.waiting.indexOf(waiter);
          if (index !== -1) this.waiting.splice(index, 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Seconds until a waiting request would likely start: the queue ahead drained at the observed pace. */
  retryAfterSeconds(): number {
    const rounds = Math.ceil((this.waiting.length + 1) / Math.max(1, this.options.concurrency));
    return Math.max(1, Math.ceil((rounds * this.averageHoldMs) / 1000));
  }

  private releaser(): () => void {
    const started = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.averageHoldMs = 0.8 * this.averageHoldMs + 0.2 * (Date.now() - started);
      const next = this.waiting.shift();
      if (next) {
        next.signal?.removeEventListener("abort", next.onAbort);
        next.resolve(this.releaser());
      } else {
        this.running -= 1;
      }
    };
  }
}
