import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { ProblemSpill } from "./problem-spill.js";
import type { ValidationReport } from "./validate-file.js";

const scratch = mkdtempSync(join(tmpdir(), "tunekit-spill-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("ProblemSpill", () => {
  it("lists every spilled problem in the report, and closes its files once: remove() leaves descriptors opened since alone", async () => {
    const spill = new ProblemSpill();
    for (let line = 1; line <= 3; line++) spill.add({ line, code: "missing_system_message", message: "no system message" } as never, "warning");
    spill.add({ line: 4, code: "invalid_json", message: "not JSON" } as never, "error");
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on("data", (chunk: Buffer) => chunks.push(chunk));
    await spill.writeReport({ ok: false, stats: { lines: 4 } } as unknown as ValidationReport, out);
    const report = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { errors: Array<{ line: number }>; warnings: Array<{ line: number }> };
    expect(report.errors.map((problem) => problem.line)).toEqual([4]);
    expect(report.warnings.map((problem) => problem.line)).toEqual([1, 2, 3]);

    // the spill's descriptors are free again: the next opens get their numbers
    const opened = [openSync(join(scratch, "a"), "w"), openSync(join(scratch, "b"), "w")];
    spill.remove();
    for (const fd of opened) expect(() => fstatSync(fd), `descriptor ${fd} was closed by remove()`).not.toThrow();
    for (const fd of opened) closeSync(fd);
  });
});
