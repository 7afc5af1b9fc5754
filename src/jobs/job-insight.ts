import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { TunekitError } from "../core/errors.js";
import type { TrainingConfig } from "../core/config-schema.js";
import type { FineTuningJob } from "../spec/openai-wire.js";
import type { JobDetail, JobSummary } from "../spec/tunekit-wire.js";
import type { Project } from "./api-key-store.js";
import type { FileStore } from "./file-store.js";
import { jobOptionsOf } from "./create-job-params.js";
import { isTerminal, JOB_STATUSES, type JobStatus } from "./job-state-machine.js";
import { toJobObject, type JobRow, type JobStore } from "./job-store.js";
import type { Page } from "./page-params.js";

export interface JobInsightOptions {
  /** the training method jobs without their own get */
  defaultMethod?: TrainingConfig["method"];
  /** where a run folder keeps the worker's log (the execution backend's layout) */
  logFileOf(runDir: string): string;
}

const LOG_CHUNK_BYTES = 1 << 16;

/**
 * Read-only views of jobs for the web UI and scripts: the jobs table with method, queue position
 * and duration, a job's resolved config and data fingerprints, and its worker log, read from a
 * byte offset and followed while the job runs (a reconnect passes the bytes it has as `offset`).
 */
export class JobInsight {
  private readonly fingerprints = new Map<string, Promise<string | null>>();

  constructor(
    private readonly store: JobStore,
    private readonly files: FileStore,
    private readonly options: JobInsightOptions,
  ) {}

  async list(project: Project, page: Page, statuses?: JobStatus[]): Promise<{ object: "list"; data: Array<FineTuningJob & { tunekit: JobSummary }>; has_more: boolean }> {
    for (const status of statuses ?? []) {
      if (!JOB_STATUSES.includes(status))
        throw new TunekitError(`\`status\` ${status} is not a job status`, {
          kind: "usage",
          code: "invalid_request",
          field: "status",
          fix: `use one of ${JOB_STATUSES.join(", ")}`,
        });
    }
    const { rows, hasMore } = await this.store.listJobs(project.id, page, undefined, statuses);
    const queue = await this.store.queueOrder();
    return { object: "list", data: rows.map((row) => ({ ...toJobObject(row, project.id), tunekit: this.summary(row, queue) })), has_more: hasMore };
  }

  async detail(project: Project, jobId: string): Promise<JobDetail> {
    const row = await this.store.getJob(project.id, jobId);
    const queue = await this.store.queueOrder();
    const resolved = await this.store.latestEventData(row.id, "resolved");
    const dataSummary = await this.store.latestEventData(row.id, "steps_per_epoch");
    const files: JobDetail["files"] = [];
    for (const [role, id] of [
      ["training", row.training_file],
      ["validation", row.validation_file],
    ] as const) {
      if (!id) continue;
      const stored = await this.files.get(project.id, id).catch(() => null);
      files.push({
        role,
        id,
        filename: stored?.object.filename ?? null,
        bytes: stored?.object.bytes ?? null,
        sha256: stored ? await this.fingerprint(id) : null,
        examples: stored?.validation?.validExamples ?? null,
      });
    }
    const log = row.run_dir ? this.options.logFileOf(row.run_dir) : null;
    return {
      job: toJobObject(row, project.id),
      ...this.summary(row, queue),
      options: jobOptionsOf(row),
      resolved: (resolved?.resolved as Record<string, unknown> | undefined) ?? null,
      data_summary: dataSummary,
      files,
      log_bytes: log && existsSync(log) ? statSync(log).size : 0,
    };
  }

  /**
   * The worker log from byte `offset`: chunks as they are written until the job has ended and
   * everything is sent (or only what is there now when `follow` is false), or `signal` aborts.
   */
  async *log(project: Project, jobId: string, offset: number, follow: boolean, signal: AbortSignal, pollMs = 250): AsyncGenerator<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new TunekitError("`offset` must be a byte count >= 0", {
        kind: "usage",
        code: "invalid_request",
        field: "offset",
        fix: "pass the number of bytes of the log already read",
      });
    let position = offset;
    while (!signal.aborted) {
      const row = await this.store.getJob(project.id, jobId);
      const path = row.run_dir ? this.options.logFileOf(row.run_dir) : null;
      const size = path && existsSync(path) ? statSync(path).size : 0;
      if (position > size)
        throw new TunekitError(`\`offset\` ${position} is past the end of the log (${size} bytes)`, {
          kind: "usage",
          code: "invalid_request",
          field: "offset",
          fix: "read from 0, or from the bytes already received",
        });
      if (path && size > position) {
        const handle = await open(path, "r");
        try {
          while (position < size && !signal.aborted) {
            const buffer = Buffer.alloc(Math.min(LOG_CHUNK_BYTES, size - position));
            const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
            if (bytesRead === 0) break;
            position += bytesRead;
            yield buffer.subarray(0, bytesRead);
          }
        } finally {
          await handle.close();
        }
        continue;
      }
      if (!follow || isTerminal(row.status as JobStatus)) return;
      await sleep(pollMs, undefined, { signal }).catch(() => undefined); // an abort ends the wait
    }
  }

  private summary(row: JobRow, queue: readonly string[]): JobSummary {
    const options = jobOptionsOf(row);
    const method = JSON.parse(row.method) as { type: string };
    const position = queue.indexOf(row.id);
    const end = row.finished_at ?? (row.status === "running" ? Date.now() : null);
    return {
      method: method.type === "dpo" ? "dpo" : (options.training.method ?? this.options.defaultMethod ?? "lora"),
      queue_position: position === -1 ? null : position + 1,
      duration_s: row.started_at !== null && end !== null ? Math.max(0, Math.round((end - row.started_at) / 1000)) : null,
    };
  }

  /** sha256 of a stored file (files never change after upload: computed once). */
  private fingerprint(fileId: string): Promise<string | null> {
    let pending = this.fingerprints.get(fileId);
    if (!pending) {
      pending = new Promise<string | null>((resolve) => {
        const hash = createHash("sha256");
        createReadStream(this.files.pathOf(fileId))
          .on("data", (chunk) => hash.update(chunk))
          .on("end", () => resolve(hash.digest("hex")))
          .on("error", () => resolve(null));
      });
      this.fingerprints.set(fileId, pending);
    }
    return pending;
  }
}
