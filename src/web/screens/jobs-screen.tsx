import { useEffect, useState } from "preact/hooks";
import { JobActionButtons, ModelIdCell } from "../components/job-pieces.js";
import { Notice, StatusBadge } from "../components/ui.js";
import { api, ApiError } from "../lib/api.js";
import { formatCount, formatDuration, formatTime } from "../lib/format.js";
import { ACTION_LABELS, runJobAction, type JobAction } from "../lib/job-actions.js";
import { hostedProviders, loadHostedProviders } from "../lib/hosted.js";
import type { FineTuningJob, JobRow, ListPage } from "../lib/wire.js";

const STATUSES = ["all", "running", "queued", "validating_files", "paused", "succeeded", "failed", "cancelled"];

/** Every job with its status, model, method, timing, output model and queue place; refreshed every 2 s. */
export function JobsScreen() {
  const [jobs, setJobs] = useState<JobRow[] | null>(null);
  const [status, setStatus] = useState("all");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  const load = async () => {
    try {
      const page = await api<{ data: JobRow[] }>(`/v1/tunekit/jobs?limit=100${status === "all" ? "" : `&status=${status}`}`);
      setJobs(page.data);
      setError(null);
    } catch (failure) {
      setError((failure as Error).message);
    }
  };

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 2000);
    return () => clearInterval(timer);
  }, [status]);
  useEffect(() => {
    loadHostedProviders().catch(() => undefined);
  }, []);

  const act = async (job: JobRow, action: JobAction) => {
    setBusy(`${job.id}:${action}`);
    try {
      await runJobAction(job.id, action);
      setActionError(null);
      await load();
    } catch (failure) {
      setActionError(
        failure instanceof ApiError && failure.status === 409
          ? `${ACTION_LABELS[action]} did not apply: ${failure.message} (it may have changed in another tab; the list is current now).`
          : (failure as Error).message,
      );
      await load();
    } finally {
      setBusy(null);
    }
  };

  return (
    <div>
      <div class="page-head">
        <h1>Jobs</h1>
        <div class="page-actions">
          <label for="status-filter">Status</label>
          <select id="status-filter" value={status} onChange={(event) => setStatus((event.target as HTMLSelectElement).value)}>
            {STATUSES.map((value) => (
              <option key={value} value={value}>
                {value.replace("_", " ")}
              </option>
            ))}
          </select>
          <a class="button button-primary" href="/jobs/new">
            New job
          </a>
        </div>
      </div>
      {error ? <Notice>{error}</Notice> : null}
      {actionError ? <Notice>{actionError}</Notice> : null}
      {jobs === null ? (
        <p class="muted">Loading jobs…</p>
      ) : jobs.length === 0 ? (
        <div class="panel empty">
          <p>{status === "all" ? "No jobs yet." : `No ${status.replace("_", " ")} jobs.`}</p>
          <p>
            <a href="/data">Upload and check a dataset</a>, then <a href="/jobs/new">start a job</a>.
          </p>
        </div>
      ) : (
        <div class="table-wrap">
          <table class="jobs-table">
            <caption class="visually-hidden">Fine-tuning jobs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Job</th>
                <th scope="col">Model</th>
                <th scope="col">Method</th>
                <th scope="col">Created</th>
                <th scope="col">Duration</th>
                <th scope="col">Trained tokens</th>
                <th scope="col">Fine-tuned model</th>
                <th scope="col">Queue</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => (
                <tr key={job.id} data-job={job.id}>
                  <td>
                    <StatusBadge status={job.status} />
                  </td>
                  <td>
                    <a href={`/jobs/${job.id}`} class="mono">
                      {job.id}
                    </a>
                    {job.user_provided_suffix ? <div class="muted">{job.user_provided_suffix}</div> : null}
                  </td>
                  <td>{job.model}</td>
                  <td>{job.tunekit.method}</td>
                  <td>{formatTime(job.created_at)}</td>
                  <td>{formatDuration(job.tunekit.duration_s)}</td>
                  <td>{formatCount(job.trained_tokens)}</td>
                  <td>
                    <ModelIdCell id={job.fine_tuned_model} />
                  </td>
                  <td>{job.tunekit.queue_position ?? "–"}</td>
                  <td>
                    <div class="row-actions">
                      <JobActionButtons jobId={job.id} status={job.status} size="small" disabled={busy !== null} onAction={(action) => void act(job, action)} />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {hostedProviders.value.map((provider) => (
        <HostedJobs key={provider.name} provider={provider.name} label={provider.label} status={status} />
      ))}
    </div>
  );
}

/** This project's jobs on a hosted provider (the provider keeps them; the server checks they are this project's). */
function HostedJobs({ provider, label, status }: { provider: string; label: string; status: string }) {
  const [jobs, setJobs] = useState<FineTuningJob[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const base = `/v1/tunekit/hosted/${encodeURIComponent(provider)}/jobs`;
  const load = async () => {
    try {
      setJobs((await api<ListPage<FineTuningJob>>(`${base}?limit=50`)).data);
      setError(null);
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 3000);
    return () => clearInterval(timer);
  }, [provider]);
  const shown = (jobs ?? []).filter((job) => status === "all" || job.status === status);
  const act = async (job: FineTuningJob, action: JobAction) => {
    try {
      await api(`${base}/${encodeURIComponent(job.id)}/${action}`, { method: "POST" });
      await load();
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  return (
    <section class="hosted-jobs" aria-labelledby={`hosted-${provider}-title`}>
      <h2 id={`hosted-${provider}-title`}>On {label}</h2>
      {error ? <Notice>{error}</Notice> : null}
      {jobs === null ? (
        <p class="muted">Loading…</p>
      ) : shown.length === 0 ? (
        <p class="muted">
          No {status === "all" ? "" : `${status.replace("_", " ")} `}jobs on {label} from this project.
        </p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Jobs on {label}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Job</th>
                <th scope="col">Model</th>
                <th scope="col">Created</th>
                <th scope="col">Trained tokens</th>
                <th scope="col">Fine-tuned model</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((job) => (
                <tr key={job.id} data-hosted-job={job.id}>
                  <td>
                    <StatusBadge status={job.status} />
                  </td>
                  <td>
                    <a href={`/jobs/hosted/${provider}/${job.id}`} class="mono">
                      {job.id}
                    </a>
                  </td>
                  <td>{job.model}</td>
                  <td>{formatTime(job.created_at)}</td>
                  <td>{formatCount(job.trained_tokens)}</td>
                  <td>
                    <ModelIdCell id={job.fine_tuned_model} />
                  </td>
                  <td>
                    <div class="row-actions">
                      <JobActionButtons jobId={job.id} status={job.status} size="small" onAction={(action) => void act(job, action)} />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
