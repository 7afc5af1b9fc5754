import { describe, expect, it } from "vitest";
import { QueueFullError, RequestQueue } from "./request-queue.js";

describe("RequestQueue", () => {
  it("runs `concurrency` at once, queues up to `maxWaiting` in order, refuses the next with a Retry-After", async () => {
    const queue = new RequestQueue("m", { concurrency: 2, maxWaiting: 2 });
    const first = await queue.acquire();
    const second = await queue.acquire();
    const order: string[] = [];
    const third = queue.acquire().then((release) => (order.push("third"), release));
    const fourth = queue.acquire().then((release) => (order.push("fourth"), release));
    expect(queue.active).toBe(2);
    expect(queue.queued).toBe(2);
    const refused = await queue.acquire().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(QueueFullError);
    expect((refused as QueueFullError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    first();
    first(); // releasing twice frees one slot only
    await third;
    expect(order).toEqual(["third"]);
    expect(queue.queued).toBe(1);
    second();
    (await fourth)();
    (await third)();
    expect(order).toEqual(["third", "fourth"]);
    expect(queue.active).toBe(0);
  });

  it("a waiter whose signal aborts leaves the queue and rejects with the signal's reason", async () => {
    const queue = new RequestQueue("m", { concurrency: 1, maxWaiting: 1 });
    const holder = await queue.acquire();
    const controller = new AbortController();
    const waiting = queue.acquire(controller.signal);
    expect(queue.queued).toBe(1);
    controller.abort(new Error("gone"));
    await expect(waiting).rejects.toThrow("gone");
    expect(queue.queued).toBe(0);
    holder();
    expect(queue.active).toBe(0);
    await expect(queue.acquire(controller.signal)).rejects.toThrow("gone");
  });
});
