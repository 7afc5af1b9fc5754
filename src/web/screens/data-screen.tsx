import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso/router";
import { ColumnMapper } from "../components/column-mapper.js";
import { FileFixes, FileSplit } from "../components/file-fixes.js";
import { FileStatsPanel } from "../components/file-stats.js";
import { ProblemList } from "../components/problem-list.js";
import { Notice, ProgressBar, Section, StatusBadge } from "../components/ui.js";
import { api, ApiError, uploadFile } from "../lib/api.js";
import { formatBytes, formatCount, formatTime } from "../lib/format.js";
import { serverInfo } from "../lib/server-state.js";
import type { FileObject, FileReportView, ListPage } from "../lib/wire.js";

const ACCEPT = ".jsonl,.ndjson,.json,.csv,.tsv,.tab,.parquet,.pq,.txt";

/**
 * Data: upload a file (drag and drop or pick, with progress), see what the server's validator
 * found line by line, map a table's columns to chat messages, write fixed copies, look at token
 * statistics against a model's context, split off a validation file, and take a clean file to the
 * job form.
 */
export function DataScreen() {
  const { params } = useRoute();
  const { route } = useLocation();
  const fileId = params.fileId ?? null;
  const [files, setFiles] = useState<FileObject[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [upload, setUpload] = useState<{ name: string; fraction: number } | null>(null);
  const [dragging, setDragging] = useState(false);
  /** what the last operation wrote (shown above the new file it opened) */
  const [written, setWritten] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  const loadFiles = async () => {
    try {
      const page = await api<ListPage<FileObject>>("/v1/files?purpose=fine-tune");
      setFiles(page.data);
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  useEffect(() => {
    void loadFiles();
  }, [fileId]);

  const send = async (file: File) => {
    setError(null);
    const limit = serverInfo.value?.max_upload_bytes ?? null;
    if (file.size === 0) {
      setError(`\`${file.name}\` is empty (0 bytes): there is nothing to upload. Export the dataset again and pick the new file.`);
      return;
    }
    if (limit !== null && file.size > limit) {
      setError(
        `\`${file.name}\` is ${formatBytes(file.size)}; this server accepts files up to ${formatBytes(limit)}. Split the dataset, or restart the server with a larger \`--max-upload-mb\`.`,
      );
      return;
    }
    setUpload({ name: file.name, fraction: 0 });
    setWritten(null);
    try {
      const stored = await uploadFile(file, (fraction) => setUpload({ name: file.name, fraction }));
      await loadFiles();
      route(`/data/${stored.id}`);
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setUpload(null);
    }
  };

  return (
    <div>
      <div class="page-head">
        <h1>Data</h1>
      </div>
      {error ? <Notice>{error}</Notice> : null}
      {written ? <Notice kind="success">{written}</Notice> : null}
      <div class="data-layout">
        <div class="data-side">
          <Section title="Upload" id="upload">
            <div
              class={`dropzone${dragging ? " dragging" : ""}`}
              onDragOver={(event) => {
                event.preventDefault();
                setDragging(true);
              }}
              onDragLeave={() => setDragging(false)}
              onDrop={(event) => {
                event.preventDefault();
                setDragging(false);
                const file = event.dataTransfer?.files[0];
                if (file) void send(file);
              }}
            >
              <p>Drop a JSONL, CSV, TSV, JSON or Parquet file here, or</p>
              <label class="button button-primary" for="file-input">
                Choose a file
              </label>
              <input
                id="file-input"
                ref={input}
                class="visually-hidden"
                type="file"
                accept={ACCEPT}
                onChange={(event) => {
                  const file = (event.target as HTMLInputElement).files?.[0];
                  if (file) void send(file);
                  (event.target as HTMLInputElement).value = "";
                }}
              />
              <p class="muted">Files stay on this server. {serverInfo.value ? `Up to ${formatBytes(serverInfo.value.max_upload_bytes)}.` : ""}</p>
            </div>
            {upload ? (
              <div class="upload-progress">
                <span>Uploading {upload.name}</span>
                <ProgressBar value={upload.fraction} label={`Uploading ${upload.name}`} />
              </div>
            ) : null}
          </Section>
          <Section title="Files" id="files">
            {files === null ? (
              <p class="muted">Loading…</p>
            ) : files.length === 0 ? (
              <p class="muted">No files yet.</p>
            ) : (
              <ul class="file-list">
                {files.map((file) => (
                  <li key={file.id} class={file.id === fileId ? "selected" : undefined}>
                    <a href={`/data/${file.id}`} aria-current={file.id === fileId ? "page" : undefined}>
                      <span class="file-name">{file.filename}</span>
                      <span class="muted">
                        {formatBytes(file.bytes)} · {formatTime(file.created_at)}
                      </span>
                    </a>
                    <StatusBadge status={file.status === "processed" ? "valid" : file.status === "error" ? "invalid" : "checking"} />
                  </li>
                ))}
              </ul>
            )}
          </Section>
        </div>
        <div class="data-main">
          {fileId ? (
            <FileView
              key={fileId}
              fileId={fileId}
              files={files ?? []}
              onNewFile={async (id, message) => {
                await loadFiles();
                setWritten(message);
                route(`/data/${id}`);
              }}
            />
          ) : (
            <Notice kind="info">Upload a file or pick one to see its report.</Notice>
          )}
        </div>
      </div>
    </div>
  );
}

function FileView({ fileId, files, onNewFile }: { fileId: string; files: FileObject[]; onNewFile(id: string, message: string): Promise<void> }) {
  const [file, setFile] = useState<FileObject | null>(null);
  const [report, setReport] = useState<FileReportView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { route } = useLocation();

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        const object = await api<FileObject>(`/v1/files/${fileId}`);
        if (stopped) return;
        setFile(object);
        // a big file is validated in the background: ask again until it is done
        if (object.status === "uploaded") {
          setTimeout(() => void load(), 1000);
          return;
        }
        setReport(await api<FileReportView>(`/v1/tunekit/files/${fileId}/report`));
      } catch (failure) {
        if (!stopped) setError(failure instanceof ApiError && failure.status === 404 ? `There is no file ${fileId} in this project.` : (failure as Error).message);
      }
    };
    void load();
    return () => {
      stopped = true;
    };
  }, [fileId]);

  if (error) return <Notice>{error}</Notice>;
  if (!file) return <p class="muted">Loading…</p>;
  const errors = report
    ? Object.values(report.counts)
        .filter((count) => count.severity === "error")
        .reduce((sum, count) => sum + count.count, 0)
    : 0;
  const warnings = report
    ? Object.values(report.counts)
        .filter((count) => count.severity === "warning")
        .reduce((sum, count) => sum + count.count, 0)
    : 0;
  return (
    <div>
      <Section
        title={file.filename}
        id="file"
        actions={
          <button
            type="button"
            class="button button-primary"
            disabled={!report?.ok}
            onClick={() => route(`/jobs/new?training_file=${file.id}`)}
            title={report?.ok ? "Start a job with this file" : "Fix the errors first: a file with errors cannot train"}
          >
            Use for training
          </button>
        }
      >
        <div class="stats">
          <div class="stat">
            <div class="stat-label">Detected format</div>
            <div class="stat-value" data-testid="detected-format">
              {report ? (report.needs_conversion ? `${report.source_format?.toUpperCase()} table` : (report.format ?? "unknown")) : "checking…"}
            </div>
          </div>
          <div class="stat">
            <div class="stat-label">Examples</div>
            <div class="stat-value">{report ? `${formatCount(report.valid_examples)} valid of ${formatCount(report.examples)}` : "–"}</div>
          </div>
          <div class="stat">
            <div class="stat-label">Problems</div>
            <div class="stat-value">
              {formatCount(errors)} errors, {formatCount(warnings)} warnings
            </div>
          </div>
          <div class="stat">
            <div class="stat-label">File</div>
            <div class="stat-value">
              <span class="mono">{file.id}</span> · {formatBytes(file.bytes)}
            </div>
          </div>
        </div>
        {report && !report.ok && !report.needs_conversion ? (
          <Notice kind="warning">This file has errors, so it cannot be used for training. Fix them in the file, or write a fixed copy below (the original is kept).</Notice>
        ) : null}
        {report?.ok && warnings > 0 ? <Notice kind="info">No errors: the file can train. The warnings below are worth a look but do not block.</Notice> : null}
      </Section>
      {!report ? (
        <p class="muted">Validating…</p>
      ) : report.needs_conversion ? (
        <ColumnMapper fileId={file.id} sourceFormat={report.source_format ?? "csv"} onConverted={onNewFile} />
      ) : report.counts.binary_file || report.counts.empty_file ? (
        <Notice>
          {report.problems[0]?.message}. {report.problems[0]?.fix}
        </Notice>
      ) : (
        <>
          <ProblemList fileId={file.id} report={report} />
          <FileFixes fileId={file.id} report={report} files={files} onFixed={onNewFile} />
          <FileStatsPanel fileId={file.id} />
          <FileSplit fileId={file.id} examples={report.valid_examples} onSplit={onNewFile} />
        </>
      )}
    </div>
  );
}
