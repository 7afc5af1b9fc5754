/**
 * How many requests distill keeps in flight: at most `max` (the user's `--concurrency`), fewer
 * while the teacher refuses with 429. A fixed pool above the teacher's capacity keeps it saturated
 * but turns every surplus request into a 429 and a Retry-After sleep, and a prompt that keeps
 * losing the race runs out of retries. So the limit follows what the teacher accepts, the way TCP
 * follows a link (additive increase, decrease on loss):
 *  - a 429 with `n` requests in flight (that one included) means the teacher took `n - 1`: the
 *    limit drops to that (never below 1);
 *  - after `4 x limit` answers in a row without a 429, and once the Retry-After of the last 429 has
 *    passed, the limit grows by one, to probe for room (a teacher whose capacity grew, a rate
 *    limit window that reset). Probing sooner than the teacher said would only buy another 429,
 *    and its prompt another Retry-After sleep: with a Retry-After long against a request (seconds
 *    against milliseconds on a local server), workers asleep would starve the teacher.
 * It starts at 1 and, until the first 429, grows by one with every answer (TCP's slow start: the
 * limit doubles each round trip), so a teacher smaller than `max` sees a few refusals, not a burst
 * of `max` requests at once. A request that waits out a Retry-After holds no slot.
 */
export class AdaptiveLimit {
  private current: number;
  private running = 0;
  private successes = 0;
  private slowStart = true;
  /** no growth before this time (performance.now() ms): the last 429's Retry-After */
  private holdUntil = 0;
  private readonly waiters: Array<() => void> = [];
  /** the lowest limit a 429 brought it to (`max` while none came), for the summary */
  lowest: number;

  constructor(readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`max must be a whole number >= 1, got ${max}`);
    this.current = 1;
    this.lowest = max;
  }

  get limit(): number {
    return this.current;
  }

  get inFlight(): number {
    return this.running;
  }

  /** Wait for a slot (FIFO). */
  acquire(): Promise<void> {
    if (this.running < this.current && this.waiters.length === 0) {
      this.running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Give the slot back, saying how the request went (and, for a 429, the wait it asked for). */
  release(outcome: "answered" | "rate_limited" | "other", retryAfterMs: number | null = null, now = performance.now()): void {
    if (outcome === "rate_limited") {
      this.slowStart = false;
      this.holdUntil = Math.max(this.holdUntil, now + (retryAfterMs ?? 1000));
      this.current = Math.max(1, Math.min(this.current, this.running - 1));
      this.lowest = Math.min(this.lowest, this.current);
      this.successes = 0;
    } else if (outcome === "answered") {
      this.successes += 1;
      if (this.current < this.max && (this.slowStart || (this.successes >= 4 * this.current && now >= this.holdUntil))) {
        this.current += 1;
        this.successes = 0;
      }
    }
    this.running -= 1;
    while (this.running < this.current && this.waiters.length > 0) {
      this.running += 1;
      (this.waiters.shift() as () => void)();
    }
  }
}
