import { describe, expect, it } from "vitest";
import { toRunOutcome } from "../src/providers/local/local-execution-backend.js";
import type { WorkerOutcome } from "../src/providers/local/python-worker.js";
import { WORKER_EXIT_TABLE, type WorkerStatus } from "../src/spec/worker-exit.js";

function outcome(status: WorkerStatus, cancelRequested: boolean): WorkerOutcome {
  return {
    status,
    exitCode: WORKER_EXIT_TABLE[status].workerExitCode,
    signal: null,
    message: "m",
    stderrTail: [],
    protocolErrors: [],
    done: null,
    cancelled: null,
    error: null,
    lastCheckpoint: null,
    cancelRequested,
  };
}

describe("the server's runner follows the one worker exit table", () => {
  it("records each worker ending as the table's job status, error code and retryability", () => {
    for (const [status, row] of Object.entries(WORKER_EXIT_TABLE) as Array<[WorkerStatus, (typeof WORKER_EXIT_TABLE)[WorkerStatus]]>) {
      expect(toRunOutcome(outcome(status, status === "cancelled"))).toMatchObject({ status: row.jobStatus, errorCode: row.errorCode, retryable: row.retryable, message: "m" });
    }
    expect(toRunOutcome(outcome("cancelled", false))).toMatchObject({
      status: "failed",
      errorCode: "worker_interrupted",
      retryable: true,
      message: "the worker stopped without being asked to: m",
    });
    expect(toRunOutcome({ ...outcome("failed", false), error: { v: 1, type: "error", code: "out_of_memory", message: "oom" } as WorkerOutcome["error"] })).toMatchObject({
      errorCode: "out_of_memory",
      retryable: true,
    });
  });
});
