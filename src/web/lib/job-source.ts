import { api, authHeaders } from "./api.js";
import { followBytes, followEvents, type StreamState } from "./event-stream.js";
import { isTerminal, type JobAction } from "./job-actions.js";
import type { FineTuningJob, FineTuningJobCheckpoint, FineTuningJobEvent, JobDetail, ListPage } from "./wire.js";

/**
 * Where a job detail page reads its job from: this server's own job (events over SSE, the worker
 * log), or a job on a hosted provider through the server (events polled: providers have no stream;
 * no worker log). The page is the same for both.
 */
export interface JobSource {
  /** `local`, or the hosted provider's name */
  provider: string | null;
  loadDetail(): Promise<JobDetail>;
  loadCheckpoints(): Promise<FineTuningJobCheckpoint[]>;
  /** events oldest first, each once, until the job has ended or `signal` aborts */
  followEvents(onEvent: (event: FineTuningJobEvent) => void, onState: (state: StreamState) => void, signal: AbortSignal, status: () => string): Promise<unknown>;
  /** the worker log as text, or null when the provider keeps none */
  followLog: ((onText: (text: string) => void, signal: AbortSignal, status: () => string) => Promise<unknown>) | null;
  act(action: JobAction): Promise<FineTuningJob>;
  /** the model ids the playground opens (`openai:` in front of a hosted provider's) */
  playgroundModels(job: FineTuningJob, checkpoint?: string): string[];
  duplicateHref(job: FineTuningJob): string;
}

export function localJobSource(jobId: string): JobSource {
  const id = encodeURIComponent(jobId);
  return {
    provider: null,
    loadDetail: () => api<JobDetail>(`/v1/tunekit/jobs/${id}`),
    loadCheckpoints: async () => (await api<ListPage<FineTuningJobCheckpoint>>(`/v1/fine_tuning/jobs/${id}/checkpoints?limit=100`)).data,
    followEvents: (onEvent, onState, signal) =>
      followEvents<FineTuningJobEvent>({
        url: (after) => `/v1/fine_tuning/jobs/${id}/events?stream=true${after ? `&after=${encodeURIComponent(after)}` : ""}`,
        headers: authHeaders,
        after: null,
        signal,
        onState,
        onHttpError: (status) => status >= 500 || status === 0,
        onEvent,
      }),
    followLog: (onText, signal, status) =>
      followBytes({
        url: (offset) => `/v1/tunekit/jobs/${id}/log?follow=true&offset=${offset}`,
        headers: authHeaders,
        offset: 0,
        signal,
        finished: () => isTerminal(status()),
        onText,
      }),
    act: (action) => api<FineTuningJob>(`/v1/fine_tuning/jobs/${id}/${action}`, { method: "POST" }),
    playgroundModels: (job, checkpoint) => [job.model, ...(checkpoint ? [checkpoint] : job.fine_tuned_model ? [job.fine_tuned_model] : [])],
    duplicateHref: (job) => `/jobs/new?from=${job.id}`,
  };
}

export function hostedJobSource(provider: string, jobId: string, pollMs = 2000): JobSource {
  const base = `/v1/tunekit/hosted/${encodeURIComponent(provider)}/jobs/${encodeURIComponent(jobId)}`;
  return {
    provider,
    async loadDetail() {
      const job = await api<FineTuningJob>(base);
      const files: JobDetail["files"] = [];
      const local = (key: string) => (job.metadata?.[key] ? job.metadata[key] : null);
      for (const [role, key] of [
        ["training", "tunekit_training_file"],
        ["validation", "tunekit_validation_file"],
      ] as const) {
        const fileId = local(key);
        if (fileId) files.push({ role, id: fileId, filename: null, bytes: null, sha256: null, examples: null });
      }
      const end = job.finished_at ?? (job.status === "running" ? Date.now() / 1000 : null);
      return {
        job,
        method: job.method?.type === "dpo" ? "dpo" : "supervised",
        queue_position: null,
        duration_s: end !== null ? Math.max(0, Math.round(end - job.created_at)) : null,
        options: { training: {}, data: {} },
        resolved: null,
        data_summary: null,
        files,
        log_bytes: 0,
      };
    },
    loadCheckpoints: async () => (await api<ListPage<FineTuningJobCheckpoint>>(`${base}/checkpoints?limit=100`)).data,
    async followEvents(onEvent, onState, signal, status) {
      // providers list events newest first: read pages until the newest one already shown
      const seen = new Set<string>();
      let newest: string | null = null;
      onState("connecting");
      while (!signal.aborted) {
        try {
          const fresh: FineTuningJobEvent[] = [];
          let after: string | null = null;
          for (;;) {
            const page: ListPage<FineTuningJobEvent> = await api(`${base}/events?limit=100${after ? `&after=${encodeURIComponent(after)}` : ""}`, { signal });
            const stop = page.data.findIndex((event) => event.id === newest);
            fresh.push(...(stop >= 0 ? page.data.slice(0, stop) : page.data));
            if (stop >= 0 || !page.has_more || page.data.length === 0) break;
            after = page.data.at(-1)?.id ?? null;
          }
          for (const event of fresh.reverse()) {
            if (seen.has(event.id)) continue;
            seen.add(event.id);
            newest = event.id;
            onEvent(event);
          }
          onState("live");
          if (isTerminal(status()) && fresh.length === 0) {
            onState("done");
            return;
          }
        } catch {
          if (signal.aborted) return;
          onState("reconnecting");
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          signal.addEventListener(
            "abort",
            () => {
              clearTimeout(timer);
              resolve();
            },
            { once: true },
          );
        });
      }
    },
    followLog: null,
    act: (action) => api<FineTuningJob>(`${base}/${action}`, { method: "POST" }),
    playgroundModels: (job, checkpoint) => [
      `${provider}:${job.model}`,
      ...(checkpoint ? [`${provider}:${checkpoint}`] : job.fine_tuned_model ? [`${provider}:${job.fine_tuned_model}`] : []),
    ],
    duplicateHref: (job) => `/jobs/new?hosted=${encodeURIComponent(provider)}&from=${job.id}`,
  };
}
