import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { TunekitError } from "../core/errors.js";
import { readFile, writeFile } from "node:fs/promises";
import type { RecordFileFormat } from "../data/read-records.js";
import { PROBLEM_CODES } from "../data/validate/problem-codes.js";
import { validateFile, type ValidationReport } from "../data/validate/validate-file.js";
import type { FileDeleted, FileObject, FilePurpose, ListPage } from "../spec/openai-wire.js";
import { isWellFormedId, monotonicNow, newId, toUnixSeconds } from "./ids.js";
import type { Page } from "./page-params.js";
import { slicePage } from "./page-params.js";
import type { FilesTable, StoreDatabase } from "./store/database.js";

export const UPLOADABLE_PURPOSES: readonly FilePurpose[] = ["fine-tune"];

/** What the job service needs from a stored validation report. */
export interface StoredValidation {
  ok: boolean;
  format: string | null;
  /** how the bytes are laid out: JSON Lines, or a table / JSON array that needs a column mapping first */
  sourceFormat?: RecordFileFormat | null;
  examples: number;
  validExamples: number;
  errorCount: number;
  /** the first problems, each with its line */
  errors: Array<{ line: number | null; code: string; message: string }>;
  warnings: Array<{ line: number | null; code: string; message: string }>;
}

const STORED_PROBLEMS = 20;

/** The whole report of a stored file (every problem the validator keeps: 1,000 a code), as GET /v1/tunekit/files/{id}/report gives it. */
export interface StoredReport extends ValidationReport {
  source_format: RecordFileFormat | null;
}

function summarize(report: StoredReport): StoredValidation {
  return {
    ok: report.ok,
    format: report.stats.format,
    sourceFormat: report.source_format,
    examples: report.stats.examples,
    validExamples: report.stats.valid_examples,
    errorCount: report.stats.errors,
    errors: report.errors.slice(0, STORED_PROBLEMS).map(({ line, code, message }) => ({ line, code, message })),
    warnings: report.warnings.slice(0, STORED_PROBLEMS).map(({ line, code, message }) => ({ line, code, message })),
  };
}

export interface ReceivedUpload {
  id: string;
  partialPath: string;
  bytes: number;
}

export function fileTooLarge(limitBytes: number): TunekitError {
  return new TunekitError(`the upload is larger than the server's limit of ${formatMegabytes(limitBytes)}`, {
    kind: "too_large",
    code: "file_too_large",
    field: "file",
    fix: "split the dataset, or start the server with a larger `--max-upload-mb`",
  });
}

export interface StoredFile {
  object: FileObject;
  projectId: string;
  validation: StoredValidation | null;
}

/**
 * Uploaded files: bytes under `<data-dir>/files/<file-id>` (the id is generated here, never taken
 * from the request), metadata and the validation report in the `files` table.
 */
export class FileStore {
  readonly directory: string;
  private readonly validations = new Map<string, Promise<void>>();

  constructor(
    private readonly database: StoreDatabase,
    dataDir: string,
    readonly maxUploadBytes: number,
    /** how long an upload waits for its validation before answering `uploaded` (default 5 s) */
    private readonly inlineValidationMs = 5_000,
  ) {
    this.directory = join(dataDir, "files");
    mkdirSync(this.directory, { recursive: true });
  }

  /**
   * Stream an upload's bytes to a temporary file under a generated id (the multipart form may
   * name the purpose after the file, so `store` decides later). Throws `file_too_large` (413).
   */
  async receive(content: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<ReceivedUpload> {
    const id = newId("file");
    const partialPath = join(this.directory, `${id}.part`);
    const limit = this.maxUploadBytes;
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > limit) {
          callback(fileTooLarge(limit));
          return;
        }
        callback(null, chunk);
      },
    });
    const sink = createWriteStream(partialPath);
    try {
      await pipeline(content, counter, sink);
    } catch (error) {
      // the write stream opens its file asynchronously: remove the file only once the stream has
      // closed, or a late open re-creates it after the removal
      if (!sink.closed) await once(sink, "close").catch(() => undefined);
      rmSync(partialPath, { force: true });
      throw error;
    }
    return { id, partialPath, bytes };
  }

  /** Remove a received upload that will not be stored. */
  discard(received: ReceivedUpload): void {
    rmSync(received.partialPath, { force: true });
  }

  /** Check the purpose and name, validate a fine-tune file with the dataset toolkit, record it. */
  async store(projectId: string, received: ReceivedUpload, params: { filename: string; purpose: string | undefined }, origin: { generated?: boolean } = {}): Promise<FileObject> {
    try {
      if (!origin.generated) this.checkPurpose(params.purpose);
      if (params.filename.length === 0 || params.filename.length > 512) {
        throw new TunekitError("`file` needs a file name of 1 to 512 characters", { kind: "usage", code: "invalid_filename", field: "file", fix: "upload the file with its name" });
      }
      if (received.bytes === 0) {
        throw new TunekitError(`\`file\` ${params.filename} is empty (0 bytes)`, { kind: "usage", code: "empty_file", field: "file", fix: PROBLEM_CODES.empty_file.fix });
      }
    } catch (error) {
      this.discard(received);
      throw error;
    }
    const { id, bytes } = received;
    const path = this.pathOf(id);
    renameSync(received.partialPath, path);

    const validate = params.purpose === "fine-tune";
    const row: FilesTable = {
      id,
      project_id: projectId,
      filename: params.filename,
      purpose: params.purpose as string,
      bytes,
      created_at: monotonicNow(),
      status: validate ? "uploaded" : "processed",
      status_details: null,
      validation_report: null,
    };
    await this.database.insertInto("files").values(row).execute();
    if (!validate) return toFileObject(row);
    // small files answer `processed`/`error` at once; a big one answers `uploaded` and is validated
    // in the background (jobs that use it wait in `validating_files`)
    const validation = this.startValidation(id);
    const finishedInTime = await Promise.race([validation.then(() => true), sleep(this.inlineValidationMs, false, { ref: false })]);
    return finishedInTime ? (await this.get(projectId, id)).object : toFileObject(row);
  }

  /** Resolves when the file's validation (if one is under way) has ended. */
  async whenValidated(fileId: string): Promise<void> {
    await this.validations.get(fileId);
  }

  /** Resolves when every validation under way has ended. */
  async settled(): Promise<void> {
    while (this.validations.size > 0) await Promise.all([...this.validations.values()]);
  }

  /** Validate fine-tune files a previous server left `uploaded` (startup). */
  async validatePending(): Promise<string[]> {
    const rows = await this.database.selectFrom("files").select("id").where("status", "=", "uploaded").where("purpose", "=", "fine-tune").execute();
    for (const row of rows) this.startValidation(row.id);
    return rows.map((row) => row.id);
  }

  private startValidation(fileId: string): Promise<void> {
    const existing = this.validations.get(fileId);
    if (existing) return existing;
    const work = (async () => {
      let validation: StoredValidation;
      try {
        const report = await this.validateStored(fileId);
        await writeFile(this.reportPathOf(fileId), JSON.stringify(report));
        validation = summarize(report);
      } catch (error) {
        validation = {
          ok: false,
          format: null,
          examples: 0,
          validExamples: 0,
          errorCount: 1,
          errors: [{ line: null, code: "unreadable", message: (error as Error).message }],
          warnings: [],
        };
      }
      await this.database
        .updateTable("files")
        .set({ status: validation.ok ? "processed" : "error", status_details: validation.ok ? null : describeProblems(validation), validation_report: JSON.stringify(validation) })
        .where("id", "=", fileId)
        .execute();
    })()
      .catch((error: unknown) => process.emitWarning(`file ${fileId}: validation could not be recorded: ${(error as Error).message}`))
      .finally(() => this.validations.delete(fileId));
    this.validations.set(fileId, work);
    return work;
  }

  /** The validator's report of a stored file; tables, JSON arrays and binary files get one whole-file problem. */
  private async validateStored(fileId: string): Promise<StoredReport> {
    const row = await this.database.selectFrom("files").select(["filename"]).where("id", "=", fileId).executeTakeFirstOrThrow();
    const report = await validateFile(this.pathOf(fileId), { threads: 0, filename: row.filename });
    return { ...report, source_format: report.source_format ?? null, stats: { ...report.stats, file: row.filename } };
  }

  /** The whole validation report of a fine-tune file (waits for a validation under way). */
  async report(projectId: string, fileId: string): Promise<StoredReport> {
    const row = await this.row(projectId, fileId, "file_id");
    if (row.purpose !== "fine-tune")
      throw new TunekitError(`file \`${fileId}\` has purpose \`${row.purpose}\`: only fine-tune files are validated`, {
        kind: "usage",
        code: "invalid_file_purpose",
        field: "file_id",
        fix: "ask for the report of a training or validation file",
      });
    await this.whenValidated(row.id);
    try {
      return JSON.parse(await readFile(this.reportPathOf(row.id), "utf8")) as StoredReport;
    } catch {
      // a file stored before reports were kept whole: validate it again
      const report = await this.validateStored(row.id);
      await writeFile(this.reportPathOf(row.id), JSON.stringify(report));
      return report;
    }
  }

  /** Record a file the server wrote itself (a job's `step_metrics.csv`, purpose `fine-tune-results`). */
  async storeGenerated(projectId: string, params: { filename: string; purpose: FilePurpose; content: string }): Promise<FileObject> {
    const received = await this.receive([Buffer.from(params.content, "utf8")]);
    return this.store(projectId, received, { filename: params.filename, purpose: params.purpose }, { generated: true });
  }

  /**
   * Take a file the server wrote (a conversion, a fix, a split) into the store as a new file of the
   * project. `path` must be a `scratchPath()`: same folder, so this is a rename.
   */
  async adopt(projectId: string, path: string, params: { filename: string; purpose: string }): Promise<FileObject> {
    const id = newId("file");
    const partialPath = join(this.directory, `${id}.part`);
    renameSync(path, partialPath);
    return this.store(projectId, { id, partialPath, bytes: statSync(partialPath).size }, params);
  }

  /** A fresh path in the store's folder for a file the server is about to write. */
  scratchPath(label: string): string {
    return join(this.directory, `scratch-${randomUUID()}-${label.replace(/[^A-Za-z0-9_.-]/g, "_")}`);
  }

  /** receive + store in one call (CLI and tests with an in-memory body). */
  async upload(projectId: string, params: { filename: string; purpose: string; content: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array> }): Promise<FileObject> {
    return this.store(projectId, await this.receive(params.content), params);
  }

  async list(projectId: string, page: Page, purpose?: string): Promise<ListPage<FileObject>> {
    let query = this.database.selectFrom("files").selectAll().where("project_id", "=", projectId);
    if (purpose) query = query.where("purpose", "=", purpose);
    if (page.after) {
      const cursor = await this.row(projectId, page.after, "after");
      query =
        page.order === "desc"
          ? query.where((where) => where.or([where("created_at", "<", cursor.created_at), where.and([where("created_at", "=", cursor.created_at), where("id", "<", cursor.id)])]))
          : query.where((where) => where.or([where("created_at", ">", cursor.created_at), where.and([where("created_at", "=", cursor.created_at), where("id", ">", cursor.id)])]));
    }
    const rows = await query
      .orderBy("created_at", page.order)
      .orderBy("id", page.order)
      .limit(page.limit + 1)
      .execute();
    const { data, hasMore } = slicePage(rows.map(toFileObject), page.limit);
    return { object: "list", data, has_more: hasMore, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  }

  async get(projectId: string, fileId: string, field = "file_id"): Promise<StoredFile> {
    const row = await this.row(projectId, fileId, field);
    return { object: toFileObject(row), projectId: row.project_id, validation: row.validation_report ? (JSON.parse(row.validation_report) as StoredValidation) : null };
  }

  /** The path of a stored file's bytes, after checking the file belongs to the project. */
  async contentPath(projectId: string, fileId: string): Promise<{ path: string; file: FileObject }> {
    const row = await this.row(projectId, fileId, "file_id");
    return { path: this.pathOf(row.id), file: toFileObject(row) };
  }

  openContent(path: string): Readable {
    return createReadStream(path);
  }

  async delete(projectId: string, fileId: string): Promise<FileDeleted> {
    const row = await this.row(projectId, fileId, "file_id");
    const activeJob = await this.database
      .selectFrom("jobs")
      .select(["id", "status"])
      .where("project_id", "=", projectId)
      .where((where) => where.or([where("training_file", "=", row.id), where("validation_file", "=", row.id)]))
      .where("status", "in", ["validating_files", "queued", "running", "paused"])
      .executeTakeFirst();
    if (activeJob) {
      throw new TunekitError(`file \`${row.id}\` is used by job \`${activeJob.id}\`, which is \`${activeJob.status}\``, {
        kind: "conflict",
        code: "file_in_use",
        field: "file_id",
        fix: `wait for the job to finish or cancel it (\`tunekit jobs cancel ${activeJob.id}\`), then delete the file`,
      });
    }
    await this.database.deleteFrom("files").where("id", "=", row.id).execute();
    rmSync(this.pathOf(row.id), { force: true });
    rmSync(this.reportPathOf(row.id), { force: true });
    return { id: row.id, object: "file", deleted: true };
  }

  /** The on-disk path for a generated id (refuses anything that is not one). */
  pathOf(fileId: string): string {
    if (!isWellFormedId("file", fileId)) throw new TunekitError(`\`${fileId}\` is not a file id`, { kind: "internal" });
    return join(this.directory, fileId);
  }

  private reportPathOf(fileId: string): string {
    return `${this.pathOf(fileId)}.report.json`;
  }

  private async row(projectId: string, fileId: string, field: string): Promise<FilesTable> {
    const row = isWellFormedId("file", fileId)
      ? await this.database.selectFrom("files").selectAll().where("id", "=", fileId).where("project_id", "=", projectId).executeTakeFirst()
      : undefined;
    if (!row) {
      throw new TunekitError(`no file \`${fileId}\``, { kind: "not_found", code: "file_not_found", field, fix: "list your files with `tunekit files list` (GET /v1/files)" });
    }
    return row;
  }

  private checkPurpose(purpose: string | undefined): void {
    if (!UPLOADABLE_PURPOSES.includes(purpose as FilePurpose)) {
      throw new TunekitError(purpose === undefined ? "`purpose` is missing" : `\`purpose\` must be \`fine-tune\`, got \`${purpose}\``, {
        kind: "usage",
        code: "invalid_purpose",
        field: "purpose",
        fix: "upload training and validation data with `purpose=fine-tune`",
      });
    }
  }
}

export function toFileObject(row: FilesTable): FileObject {
  return {
    id: row.id,
    object: "file",
    bytes: row.bytes,
    created_at: toUnixSeconds(row.created_at),
    filename: row.filename,
    purpose: row.purpose as FilePurpose,
    status: row.status as FileObject["status"],
    expires_at: null,
    status_details: row.status_details,
  };
}

export function describeProblems(validation: StoredValidation): string {
  const first = validation.errors
    .slice(0, 3)
    .map((problem) => `${problem.line !== null ? `line ${problem.line}: ` : ""}${problem.message}`)
    .join("; ");
  return `${validation.errorCount} problem${validation.errorCount === 1 ? "" : "s"} found${first ? `: ${first}` : ""}`;
}

function formatMegabytes(bytes: number): string {
  return `${Math.round((bytes / (1 << 20)) * 100) / 100} MiB`;
}
