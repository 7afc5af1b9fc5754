import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Writable } from "node:stream";
import { withFix, type ValidationProblem } from "./problem-codes.js";
import type { ValidationReport } from "./validate-file.js";

/**
 * Every problem of a validation, spilled to two temporary JSON Lines files (errors, warnings) as
 * the validator finds them, so that a report can list all of them, however many, with bounded
 * memory. Writes are synchronous and buffered in 64 KiB pieces.
 */
export class ProblemSpill {
  private readonly folder = mkdtempSync(join(tmpdir(), "tunekit-problems-"));
  private readonly files = { error: { fd: 0, path: "", buffer: "", count: 0 }, warning: { fd: 0, path: "", buffer: "", count: 0 } };

  constructor() {
    for (const severity of ["error", "warning"] as const) {
      const path = join(this.folder, `${severity}s.jsonl`);
      this.files[severity] = { fd: openSync(path, "w"), path, buffer: "", count: 0 };
    }
  }

  /** A sink for validateFile's `onProblem`. Each problem is written with its code's `fix` (the `--json` contract: a fix field of its own). */
  readonly add = (problem: ValidationProblem, severity: "error" | "warning"): void => {
    const file = this.files[severity];
    file.buffer += `${JSON.stringify(withFix(problem))}\n`;
    file.count++;
    if (file.buffer.length >= 1 << 16) this.flush(severity);
  };

  count(severity: "error" | "warning"): number {
    return this.files[severity].count;
  }

  private flush(severity: "error" | "warning"): void {
    const file = this.files[severity];
    if (file.buffer.length > 0) writeSync(file.fd, file.buffer);
    file.buffer = "";
  }

  /**
   * Write the report as JSON to `out`, with `errors` and `warnings` holding every spilled problem
   * (the report's own, capped lists are left out), streamed with backpressure.
   */
  async writeReport(report: ValidationReport, out: Writable): Promise<void> {
    for (const severity of ["error", "warning"] as const) {
      this.flush(severity);
      this.close(severity);
    }
    const write = async (text: string) => {
      if (!out.write(text)) await once(out, "drain");
    };
    await write(`{"ok":${JSON.stringify(report.ok)}`);
    for (const severity of ["error", "warning"] as const) {
      await write(`,"${severity}s":[`);
      let first = true;
      for await (const line of createInterface({ input: createReadStream(this.files[severity].path), crlfDelay: Infinity })) {
        await write(first ? line : `,${line}`);
        first = false;
      }
      await write("]");
    }
    await write(`,"stats":${JSON.stringify(report.stats)},"source_format":${JSON.stringify(report.source_format ?? null)}}\n`);
  }

  remove(): void {
    for (const severity of ["error", "warning"] as const) this.close(severity);
    rmSync(this.folder, { recursive: true, force: true });
  }

  /**
   * Close a spill file once. A second close of the same number would close whatever the process
   * opened with it since (here: writeReport's own read streams, which then failed with EBADF).
   */
  private close(severity: "error" | "warning"): void {
    const file = this.files[severity];
    if (file.fd < 0) return;
    closeSync(file.fd);
    file.fd = -1;
  }
}
