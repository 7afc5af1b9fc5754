import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useRoute } from "preact-iso/router";
import { LogPanel } from "../components/log-panel.js";
import { MetricChart, type ChartLine } from "../components/metric-chart.js";
import { Notice, ProgressBar, Section, Stat, StatusBadge } from "../components/ui.js";
import { ApiError } from "../lib/api.js";
import type { StreamState } from "../lib/event-stream.js";
import { formatBytes, formatCount, formatDuration, formatNumber, formatTime } from "../lib/format.js";
import { ACTION_LABELS, type JobAction } from "../lib/job-actions.js";
import { JobActionButtons } from "../components/job-pieces.js";
import { hostedJobSource, localJobSource } from "../lib/job-source.js";
import { LogBuffer } from "../lib/log-lines.js";
import { MetricSeries, type Metric } from "../lib/metric-series.js";
import { overfittingHint, type CheckpointPoint } from "../lib/overfitting.js";
import type { FineTuningJobCheckpoint, JobDetail } from "../lib/wire.js";

type XAxis = "step" | "epoch" | "time";

const CHARTS: Array<{ title: string; lines: Array<{ metric: Metric; label: string; color: string }>; smoothable: boolean; logScale: boolean }> = [
  { title: "Training loss", lines: [{ metric: "train_loss", label: "train loss", color: "#1f4fbf" }], smoothable: true, logScale: true },
  { title: "Validation loss", lines: [{ metric: "valid_loss", label: "valid loss", color: "#b3261e" }], smoothable: true, logScale: true },
  { title: "Full validation loss", lines: [{ metric: "full_valid_loss", label: "full valid loss", color: "#7a1fa2" }], smoothable: false, logScale: true },
  {
    title: "Token accuracy",
    lines: [
      { metric: "train_mean_token_accuracy", label: "train", color: "#1f4fbf" },
      { metric: "valid_mean_token_accuracy", label: "valid", color: "#b3261e" },
    ],
    smoothable: true,
    logScale: false,
  },
  { title: "Learning rate", lines: [{ metric: "learning_rate", label: "learning rate", color: "#0b6e4f" }], smoothable: false, logScale: true },
  { title: "Throughput (trained tokens/s)", lines: [{ metric: "tokens_per_second", label: "tokens/s", color: "#8a5a00" }], smoothable: true, logScale: false },
];

/**
 * One job, live: progress, charts of every metric from the event stream, checkpoints with the
 * overfitting hint, the events and the worker log (both filterable), the resolved config and the
 * data fingerprints, and the actions. Reloading or losing the connection resumes the streams where
 * they were; training never depends on this page.
 */
export function JobDetailScreen() {
  const { params } = useRoute();
  const jobId = params.id as string;
  const provider = params.provider ?? null;
  const source = useMemo(() => (provider ? hostedJobSource(provider, jobId) : localJobSource(jobId)), [provider, jobId]);
  const [detail, setDetail] = useState<JobDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [checkpoints, setCheckpoints] = useState<FineTuningJobCheckpoint[]>([]);
  const [eventsState, setEventsState] = useState<StreamState>("connecting");
  const [, setTick] = useState(0);
  const series = useMemo(() => new MetricSeries(), [source]);
  const events = useMemo(() => new LogBuffer(), [source]);
  const log = useMemo(() => new LogBuffer(), [source]);
  const [xAxis, setXAxis] = useState<XAxis>("step");
  const [smoothing, setSmoothing] = useState(0.6);
  const [logScale, setLogScale] = useState(false);
  const statusRef = useRef<string>("");
  const [busy, setBusy] = useState(false);
  /** what the last action said (kept until the next action: refreshing the job does not clear it) */
  const [actionError, setActionError] = useState<string | null>(null);

  const loadDetail = async () => {
    try {
      const next = await source.loadDetail();
      statusRef.current = next.job.status;
      setDetail(next);
      setError(null);
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 404) setError(`There is no job ${jobId} in this project${provider ? ` on ${provider}` : ""}.`);
      else if (failure instanceof ApiError && failure.status !== 0) setError(failure.message);
    }
  };
  const loadCheckpoints = async () => {
    try {
      setCheckpoints([...(await source.loadCheckpoints())].sort((a, b) => a.step_number - b.step_number));
    } catch {
      // shown again on the next checkpoint event
    }
  };

  useEffect(() => {
    void loadDetail();
    void loadCheckpoints();
    const timer = setInterval(() => void loadDetail(), 2000);
    const aborter = new AbortController();
    // redraws come at most 4 times a second, whatever the event rate
    let pending = false;
    const redraw = () => {
      if (pending) return;
      pending = true;
      setTimeout(() => {
        pending = false;
        setTick((tick) => tick + 1);
      }, 250);
    };
    const status = () => statusRef.current;
    void source.followEvents(
      (event) => {
        series.add(event);
        if (event.type !== "metrics") events.append(`${formatTime(event.created_at)}  ${event.level.padEnd(5)}  ${event.message}\n`);
        if (/^Checkpoint created/i.test(event.message)) void loadCheckpoints();
        redraw();
      },
      (state) => setEventsState(state),
      aborter.signal,
      status,
    );
    void source.followLog?.(
      (text) => {
        log.append(text);
        redraw();
      },
      aborter.signal,
      status,
    );
    return () => {
      clearInterval(timer);
      aborter.abort();
    };
  }, [source]);

  const act = async (action: JobAction) => {
    setBusy(true);
    try {
      await source.act(action);
      setActionError(null);
    } catch (failure) {
      setActionError(
        failure instanceof ApiError && failure.status === 409
          ? `${ACTION_LABELS[action]} did not apply: ${failure.message} The job may have changed in another tab; this page shows its current state.`
          : (failure as Error).message,
      );
    } finally {
      setBusy(false);
      await loadDetail();
    }
  };

  const job = detail?.job;
  const x = xValues(series, xAxis);
  const checkpointX = checkpoints.map((checkpoint) => xAt(series, x, checkpoint.step_number)).filter((value): value is number => value !== null);
  const points: CheckpointPoint[] = checkpoints.map((checkpoint) => ({
    step: checkpoint.step_number,
    id: checkpoint.id,
    model: checkpoint.fine_tuned_model_checkpoint,
    ...(typeof checkpoint.metrics.valid_loss === "number" ? { validLoss: checkpoint.metrics.valid_loss } : {}),
  }));
  const hint = overfittingHint(series.evaluations(), points);
  const step = series.step.at(-1) ?? 0;
  const total = series.totalSteps ?? (detail?.data_summary?.total_steps as number | undefined) ?? null;
  const epoch = series.epoch.at(-1) ?? null;
  const eta = job?.estimated_finish ? job.estimated_finish - Date.now() / 1000 : null;

  if (error && !detail) return <Notice>{error}</Notice>;
  if (!detail || !job) return <p class="muted">Loading job…</p>;
  return (
    <div>
      <div class="page-head">
        <div>
          <h1>
            Job <span class="mono">{job.id}</span> <StatusBadge status={job.status} />
          </h1>
          <p class="muted">
            {provider ? `on ${provider} · ` : ""}
            {job.model} · {detail.method}
            {job.user_provided_suffix ? ` · ${job.user_provided_suffix}` : ""} · created {formatTime(job.created_at)}
            {detail.queue_position ? ` · place ${detail.queue_position} in the queue` : ""}
          </p>
        </div>
        <div class="page-actions">
          <JobActionButtons jobId={job.id} status={job.status} size="large" disabled={busy} onAction={(action) => void act(action)} />
          <a class="button button-plain" href={source.duplicateHref(job)}>
            Duplicate
          </a>
          <a class="button button-plain" href={`/playground?models=${encodeURIComponent(source.playgroundModels(job).join(","))}`}>
            Open in playground
          </a>
        </div>
      </div>
      {error ? <Notice>{error}</Notice> : null}
      {actionError ? <Notice>{actionError}</Notice> : null}
      {job.error ? (
        <Notice>
          Failed: {job.error.message} <span class="mono">({job.error.code})</span>
        </Notice>
      ) : null}
      {eventsState === "reconnecting" ? (
        <Notice kind="warning">Lost the connection to the server; reconnecting. Nothing is missed: the page resumes after the last event it showed.</Notice>
      ) : null}
      {job.fine_tuned_model ? (
        <Notice kind="success">
          Fine-tuned model: <span class="mono">{job.fine_tuned_model}</span>
        </Notice>
      ) : null}

      <Section title="Progress" id="progress">
        <ProgressBar value={total ? step / total : job.status === "succeeded" ? 1 : 0} label="Training progress" />
        <div class="stats">
          <Stat label="Step" value={`${step}${total ? ` / ${total}` : ""}`} />
          <Stat label="Epoch" value={epoch === null ? "–" : formatNumber(epoch, 3)} />
          <Stat label="ETA" value={job.status === "running" && eta !== null ? formatDuration(eta) : "–"} />
          <Stat label="Throughput" value={`${formatNumber(series.latest("tokens_per_second"), 3)} tokens/s`} />
          <Stat label="Train loss" value={formatNumber(series.latest("train_loss"))} />
          <Stat label="Valid loss" value={formatNumber(series.latest("valid_loss"))} />
          <Stat label="Trained tokens" value={formatCount(job.trained_tokens)} />
          <Stat label="Backend" value={job.execution?.backend ?? "–"} />
          <Stat label="Nodes" value={job.execution?.nodes.length ? job.execution.nodes.join(", ") : "–"} />
          <Stat label="Duration" value={formatDuration(detail.duration_s)} />
        </div>
      </Section>

      {hint ? (
        <Notice kind="warning">
          Validation loss has not improved for {hint.evaluationsSince} evaluations (best {formatNumber(hint.bestLoss)} at step {hint.bestStep}, now {formatNumber(hint.latestLoss)}
          ): the model is likely overfitting.
          {hint.checkpoint ? (
            <>
              {" "}
              Keep checkpoint <span class="mono">{hint.checkpoint.model}</span> (step {hint.checkpoint.step}
              {hint.checkpoint.validLoss !== undefined ? `, valid loss ${formatNumber(hint.checkpoint.validLoss)}` : ""}).
            </>
          ) : null}
        </Notice>
      ) : null}

      <Section
        title="Metrics"
        id="metrics"
        actions={
          <div class="chart-controls">
            <label for="x-axis">x axis</label>
            <select id="x-axis" value={xAxis} onChange={(event) => setXAxis((event.target as HTMLSelectElement).value as XAxis)}>
              <option value="step">step</option>
              <option value="epoch">epoch</option>
              <option value="time">wall time (s)</option>
            </select>
            <label for="smoothing">smoothing {smoothing.toFixed(2)}</label>
            <input
              id="smoothing"
              type="range"
              min="0"
              max="0.99"
              step="0.01"
              value={smoothing}
              onInput={(event) => setSmoothing(Number((event.target as HTMLInputElement).value))}
            />
            <label class="check">
              <input type="checkbox" checked={logScale} onChange={() => setLogScale(!logScale)} /> log scale
            </label>
          </div>
        }
      >
        {series.length === 0 ? <p class="muted">No metrics yet: they appear with the first training step.</p> : null}
        <div class="charts">
          {CHARTS.map((chart) => {
            const lines: ChartLine[] = chart.lines.map((line) => ({ label: line.label, values: series.values[line.metric], color: line.color, smoothable: chart.smoothable }));
            return (
              <MetricChart
                key={chart.title}
                title={chart.title}
                x={x}
                xLabel={xAxis === "time" ? "seconds" : xAxis}
                lines={lines}
                version={series.version}
                smoothing={chart.smoothable ? smoothing : 0}
                logScale={logScale && chart.logScale}
                markers={checkpointX}
                syncKey={`job-${jobId}`}
              />
            );
          })}
        </div>
      </Section>

      <Section title="Checkpoints" id="checkpoints">
        {checkpoints.length === 0 ? (
          <p class="muted">No checkpoint yet.</p>
        ) : (
          <div class="table-scroll" tabIndex={0} role="region" aria-label="Checkpoints, newest first">
            <table>
              <thead>
                <tr>
                  <th scope="col">Step</th>
                  <th scope="col">Model id</th>
                  <th scope="col">Train loss</th>
                  <th scope="col">Valid loss</th>
                  <th scope="col">Valid accuracy</th>
                  <th scope="col">Playground</th>
                </tr>
              </thead>
              <tbody>
                {[...checkpoints].reverse().map((checkpoint) => (
                  <tr key={checkpoint.id} class={hint?.checkpoint?.id === checkpoint.id ? "row-best" : undefined}>
                    <td>{checkpoint.step_number}</td>
                    <td class="mono">{checkpoint.fine_tuned_model_checkpoint}</td>
                    <td>{formatNumber(checkpoint.metrics.train_loss)}</td>
                    <td>{formatNumber(checkpoint.metrics.valid_loss ?? checkpoint.metrics.full_valid_loss)}</td>
                    <td>{formatNumber(checkpoint.metrics.valid_mean_token_accuracy ?? checkpoint.metrics.full_valid_mean_token_accuracy)}</td>
                    <td>
                      <a href={`/playground?models=${encodeURIComponent(source.playgroundModels(job, checkpoint.fine_tuned_model_checkpoint).join(","))}`}>Open</a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>

      <div class="two-columns">
        <Section title="Events" id="events">
          <LogPanel buffer={events} version={events.version} id="events" label="Events" />
        </Section>
        <Section title="Worker log" id="worker-log">
          {source.followLog ? (
            <LogPanel buffer={log} version={log.version} id="worker-log" label="Worker log" />
          ) : (
            <p class="muted">{provider} publishes no worker log: what it says about the job is in its events.</p>
          )}
        </Section>
      </div>

      <div class="two-columns">
        <Section title="Resolved hyperparameters" id="resolved">
          <ResolvedConfig detail={detail} provider={provider} />
        </Section>
        <Section title="Data" id="data-fingerprints">
          <table>
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">File</th>
                <th scope="col">Examples</th>
                <th scope="col">Size</th>
                <th scope="col">SHA-256</th>
              </tr>
            </thead>
            <tbody>
              {detail.files.map((file) => (
                <tr key={file.id}>
                  <td>{file.role}</td>
                  <td>
                    <a href={`/data/${file.id}`}>{file.filename ?? file.id}</a>
                  </td>
                  <td>{formatCount(file.examples)}</td>
                  <td>{formatBytes(file.bytes)}</td>
                  <td class="mono hash" title={file.sha256 ?? ""}>
                    {file.sha256 ? `${file.sha256.slice(0, 16)}…` : "–"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {detail.data_summary ? (
            <p class="muted">
              {formatCount(detail.data_summary.train_examples as number)} training examples, {formatCount(detail.data_summary.trained_tokens as number)} trained tokens an epoch,{" "}
              {formatCount(detail.data_summary.truncated_examples as number)} truncated, {formatCount(detail.data_summary.total_steps as number)} steps.
            </p>
          ) : null}
        </Section>
      </div>
    </div>
  );
}

function ResolvedConfig({ detail, provider }: { detail: JobDetail; provider: string | null }) {
  const resolved = detail.resolved;
  if (!resolved && provider) {
    const hyperparameters = detail.job.hyperparameters;
    return (
      <table class="key-values">
        <tbody>
          {Object.entries(hyperparameters).map(([key, value]) => (
            <tr key={key}>
              <th scope="row">{key.replace(/_/g, " ")}</th>
              <td>{String(value)}</td>
            </tr>
          ))}
          <tr>
            <th scope="row">seed</th>
            <td>{detail.job.seed}</td>
          </tr>
        </tbody>
      </table>
    );
  }
  if (!resolved) return <p class="muted">Known once the worker starts (its `config` event).</p>;
  const training = (resolved.training ?? {}) as Record<string, unknown>;
  const data = (resolved.data ?? {}) as Record<string, unknown>;
  const lora = (training.lora ?? {}) as Record<string, unknown>;
  const rows: Array<[string, unknown]> = [
    ["method", training.method],
    ["epochs", training.epochs],
    ["batch size", training.batch_size],
    ["micro-batch size", training.micro_batch_size],
    ["learning rate", training.learning_rate],
    ["schedule", `${String(training.lr_scheduler)}, warmup ${String(training.warmup_ratio)}`],
    ["max steps", training.max_steps ?? "–"],
    ["max sequence length", data.max_seq_len],
    ["packing", training.packing],
    [
      "LoRA",
      training.method === "full"
        ? "–"
        : `r ${String(lora.r)}, alpha ${String(lora.alpha)}, dropout ${String(lora.dropout)}, ${Array.isArray(lora.target_modules) ? lora.target_modules.join(", ") : String(lora.target_modules)}`,
    ],
    ["device", `${String(training.device)} (${String(training.precision)})`],
    ["seed", training.seed],
    ["parameters", `${formatCount(resolved.parameter_count as number)} (${formatCount(resolved.trainable_parameter_count as number)} trainable)`],
  ];
  return (
    <>
      <table class="key-values">
        <tbody>
          {rows.map(([key, value]) => (
            <tr key={key}>
              <th scope="row">{key}</th>
              <td>{typeof value === "number" ? formatNumber(value, 6) : String(value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <details>
        <summary>The whole resolved job spec</summary>
        <pre class="code" tabIndex={0} aria-label="Resolved job spec">
          {JSON.stringify(resolved, null, 2)}
        </pre>
      </details>
    </>
  );
}

/** The x column of the charts: steps, epochs (carried over where a row has none) or seconds. */
function xValues(series: MetricSeries, axis: XAxis): number[] {
  if (axis === "step") return series.step;
  if (axis === "time") return series.time;
  const out: number[] = new Array(series.length);
  let last = 0;
  for (let index = 0; index < series.length; index++) {
    const value = series.epoch[index];
    last = value !== null && value !== undefined && value >= last ? value : last;
    out[index] = last;
  }
  return out;
}

function xAt(series: MetricSeries, x: readonly number[], step: number): number | null {
  let index = series.step.findIndex((value) => value >= step);
  if (index === -1) index = series.step.length - 1;
  return index >= 0 ? (x[index] ?? null) : null;
}
