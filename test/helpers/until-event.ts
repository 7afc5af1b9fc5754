import type { WorkerEvent } from "../../src/spec/worker-events.js";

/** Resolves once an event in `events` (filled as a run reports) matches; rejects after `timeoutMs`, naming the events that did come. */
export function untilEvent(events: WorkerEvent[], predicate: (event: WorkerEvent) => boolean, timeoutMs = 240_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (events.some(predicate)) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`no such event within ${timeoutMs} ms; got ${events.map((event) => event.type).join(", ") || "none"}`));
      }
    }, 50);
  });
}
