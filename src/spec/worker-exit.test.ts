import { describe, expect, it } from "vitest";
import { WorkerExitCode } from "./worker-events.js";
import { exitMeaning, statusOfExitCode, trainExitCode, WORKER_EXIT_TABLE, workerStatusOf, type WorkerStatus } from "./worker-exit.js";

const none = { done: false, cancelled: false, errorCode: null, cancelRequested: false };

describe("the worker exit table", () => {
  it("maps each ending to the worker's exit code, the job status, retryability and the exit status of `tunekit train`", () => {
    const rows = Object.entries(WORKER_EXIT_TABLE).map(([status, row]) => [status, row.workerExitCode, row.jobStatus, row.errorCode, row.retryable, row.cliExitCode]);
    expect(rows).toEqual([
      ["done", WorkerExitCode.done, "succeeded", null, false, 0],
      ["failed", WorkerExitCode.failed, "failed", "worker_failed", true, 1],
      ["bad_config", WorkerExitCode.badConfig, "failed", "bad_config", false, 2],
      ["cancelled", WorkerExitCode.cancelled, "stopped", null, true, 130],
      ["diverged", WorkerExitCode.diverged, "failed", "diverged", false, 1],
    ]);
  });

  it("reads the worker's own exit codes back; 1 (also torchrun's code for any child failure) and unknown codes are a generic failure", () => {
    for (const status of ["done", "bad_config", "cancelled", "diverged"] as WorkerStatus[]) expect(statusOfExitCode(WORKER_EXIT_TABLE[status].workerExitCode)).toBe(status);
    expect(statusOfExitCode(WorkerExitCode.failed)).toBeNull();
    expect(statusOfExitCode(137)).toBeNull();
    expect(statusOfExitCode(null)).toBeNull();
  });

  it("refines a generic failure with the worker's last events, and trusts a `done` event over a crash while exiting", () => {
    expect(workerStatusOf(0, null, { ...none, done: true })).toBe("done");
    expect(workerStatusOf(0, null, none)).toBe("failed");
    expect(workerStatusOf(2, null, none)).toBe("bad_config");
    expect(workerStatusOf(3, null, none)).toBe("cancelled");
    expect(workerStatusOf(4, null, none)).toBe("diverged");
    expect(workerStatusOf(1, null, none)).toBe("failed");
    expect(workerStatusOf(1, null, { ...none, done: true })).toBe("done");
    expect(workerStatusOf(1, null, { ...none, cancelled: true })).toBe("cancelled");
    expect(workerStatusOf(1, null, { ...none, errorCode: "bad_config" })).toBe("bad_config");
    expect(workerStatusOf(1, null, { ...none, errorCode: "nan_loss" })).toBe("diverged");
    expect(workerStatusOf(null, "SIGKILL", none)).toBe("failed");
    expect(workerStatusOf(null, "SIGKILL", { ...none, cancelRequested: true })).toBe("cancelled");
    expect(workerStatusOf(null, "SIGSEGV", { ...none, done: true })).toBe("done");
  });

  it("a cancel nobody asked for fails the job, retryably; a Ctrl-C'd `tunekit train` exits 130 unless the run had finished", () => {
    expect(exitMeaning("cancelled", true)).toMatchObject({ jobStatus: "stopped", errorCode: null, retryable: true });
    expect(exitMeaning("cancelled", false)).toMatchObject({ jobStatus: "failed", errorCode: "worker_interrupted", retryable: true });
    expect(exitMeaning("bad_config", true)).toBe(WORKER_EXIT_TABLE.bad_config);
    expect(trainExitCode("done", false)).toBe(0);
    expect(trainExitCode("failed", false)).toBe(1);
    expect(trainExitCode("diverged", false)).toBe(1);
    expect(trainExitCode("bad_config", false)).toBe(2);
    expect(trainExitCode("cancelled", false)).toBe(130);
    expect(trainExitCode("failed", true)).toBe(130);
    expect(trainExitCode("done", true)).toBe(0);
  });
});
