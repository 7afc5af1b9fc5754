import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { baseModels, loadBaseModels } from "../lib/catalog.js";
import { formatCount, formatNumber } from "../lib/format.js";
import type { DatasetStats } from "../lib/wire.js";
import { Notice, Section, Stat } from "./ui.js";

/** Token statistics with a base model's own tokenizer and chat template: the histogram of example lengths against the model's context. */
export function FileStatsPanel({ fileId }: { fileId: string }) {
  const [model, setModel] = useState("");
  const [stats, setStats] = useState<DatasetStats | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    loadBaseModels().catch((failure: Error) => setError(failure.message));
  }, []);
  useEffect(() => {
    if (!model && baseModels.value?.[0]) setModel(baseModels.value[0].id);
  }, [baseModels.value]);
  useEffect(() => {
    if (!model) return;
    setBusy(true);
    api<DatasetStats>(`/v1/tunekit/files/${fileId}/stats?model=${encodeURIComponent(model)}`)
      .then((answer) => {
        setStats(answer);
        setError(null);
      })
      .catch((failure: Error) => setError(failure.message))
      .finally(() => setBusy(false));
  }, [fileId, model]);

  return (
    <Section
      title="Token statistics"
      id="stats"
      actions={
        <>
          <label for="stats-model">Model</label>
          <select id="stats-model" value={model} onChange={(event) => setModel((event.target as HTMLSelectElement).value)}>
            {(baseModels.value ?? []).map((entry) => (
              <option key={entry.id} value={entry.id}>
                {entry.id}
              </option>
            ))}
          </select>
        </>
      }
    >
      {error ? <Notice>{error}</Notice> : null}
      {busy && !stats ? <p class="muted">Counting tokens with the model's tokenizer…</p> : null}
      {stats ? (
        <>
          <div class="stats">
            <Stat label="Examples" value={formatCount(stats.examples)} />
            <Stat
              label="Tokens per example"
              value={stats.tokensPerExample ? `median ${formatNumber(stats.tokensPerExample.median, 4)}, max ${formatCount(stats.tokensPerExample.max)}` : "–"}
            />
            <Stat
              label="Trained tokens per example"
              value={
                stats.trainedTokensPerExample ? `median ${formatNumber(stats.trainedTokensPerExample.median, 4)}, mean ${formatNumber(stats.trainedTokensPerExample.mean, 4)}` : "–"
              }
            />
            <Stat label="Total tokens" value={`${formatCount(stats.totalTokens)} (${formatCount(stats.totalTrainedTokens)} trained)`} />
            <Stat label="Over the context" value={stats.overContextLength === null ? "context unknown" : `${stats.overContextLength} of ${stats.contextLength}`} />
          </div>
          <Histogram stats={stats} />
          <p class="muted">Counted with {stats.method}.</p>
        </>
      ) : null}
    </Section>
  );
}

function Histogram({ stats }: { stats: DatasetStats }) {
  const bins = stats.histogram;
  if (bins.length === 0) return null;
  const width = 640;
  const height = 160;
  const left = 40;
  const bottom = 24;
  const highest = Math.max(...bins.map((bin) => bin.count), 1);
  const minimum = bins[0]?.from ?? 0;
  const context = stats.contextLength;
  const maximum = Math.max(bins.at(-1)?.to ?? 1, context !== null && context < (bins.at(-1)?.to ?? 0) * 1.5 ? context : 0);
  const xOf = (value: number) => left + ((value - minimum) / Math.max(1, maximum - minimum)) * (width - left - 8);
  const yOf = (count: number) => (height - bottom) * (1 - count / highest);
  return (
    <svg
      class="histogram"
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`Histogram of tokens per example: ${bins.map((bin) => `${bin.from} to ${bin.to}: ${bin.count}`).join("; ")}${context !== null ? `; context ${context} tokens` : ""}`}
    >
      {bins.map((bin) => (
        <rect key={bin.from} x={xOf(bin.from) + 1} y={yOf(bin.count)} width={Math.max(1, xOf(bin.to) - xOf(bin.from) - 2)} height={height - bottom - yOf(bin.count)} class="bar" />
      ))}
      <line x1={left} x2={width - 8} y1={height - bottom} y2={height - bottom} class="axis" />
      <text x={left} y={height - 6} class="tick">
        {minimum}
      </text>
      <text x={width - 8} y={height - 6} class="tick" text-anchor="end">
        {maximum} tokens
      </text>
      <text x={left - 4} y={12} class="tick" text-anchor="end">
        {highest}
      </text>
      {context !== null && context <= maximum ? (
        <g>
          <line x1={xOf(context)} x2={xOf(context)} y1={0} y2={height - bottom} class="context-line" />
          <text x={xOf(context) - 4} y={12} class="tick context-label" text-anchor="end">
            context {context}
          </text>
        </g>
      ) : null}
    </svg>
  );
}
