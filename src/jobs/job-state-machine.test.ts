import { describe, expect, it } from "vitest";
import { TunekitError } from "../core/errors.js";
import { assertTransition, canTransition, JOB_STATUSES, type JobStatus } from "./job-state-machine.js";

// every edge a job may take; everything else must be refused
const ALLOWED_EDGES: Array<[JobStatus, JobStatus]> = [
  ["validating_files", "queued"],
  ["validating_files", "failed"],
  ["validating_files", "cancelled"],
  ["queued", "running"],
  ["queued", "failed"],
  ["queued", "cancelled"],
  ["running", "succeeded"],
  ["running", "failed"],
  ["running", "cancelled"],
  ["running", "paused"],
  ["running", "queued"],
  ["paused", "queued"],
  ["paused", "cancelled"],
  ["paused", "failed"],
];

const allowed = new Set(ALLOWED_EDGES.map(([from, to]) => `${from}->${to}`));
const everyEdge = JOB_STATUSES.flatMap((from) => JOB_STATUSES.map((to) => [from, to] as [JobStatus, JobStatus]));

describe("job state machine", () => {
  it.each(everyEdge)("%s -> %s", (from, to) => {
    const expected = allowed.has(`${from}->${to}`);
    expect(canTransition(from, to)).toBe(expected);
    if (expected) {
      expect(() => assertTransition("ftjob-x", from, to)).not.toThrow();
    } else {
      let thrown: unknown;
      try {
        assertTransition("ftjob-x", from, to);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TunekitError);
      expect((thrown as TunekitError).kind).toBe("conflict");
      expect((thrown as TunekitError).code).toBe("invalid_state_transition");
    }
  });

  it("explains a refused cancel in the user's words", () => {
    expect(() => assertTransition("ftjob-abc", "succeeded", "cancelled")).toThrow("cannot cancel job `ftjob-abc`: it is `succeeded`");
  });

  it("finished jobs go nowhere", () => {
    for (const status of ["succeeded", "failed", "cancelled"] as const) {
      expect(JOB_STATUSES.filter((to) => canTransition(status, to))).toEqual([]);
    }
  });
});
