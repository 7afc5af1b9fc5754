import { mkdir, writeFile } from "node:fs/promises";
import { snakeKeys } from "../core/json-style.js";
import path from "node:path";
import { parseConfig } from "../core/config-load.js";
import { bootstrapMean, type ConfidenceInterval } from "./bootstrap.js";
import type { EndpointConfig } from "./chat-client.js";
import { escapeXml, metricBarsChart } from "./report/svg-charts.js";
import { runEval, type EvalReport, type StrategyResult } from "./run-eval.js";

/**
 * The parity report of a migration: the same held-out examples through the model being left (the
 * old, hosted fine-tune) and its replacement (the new one), scored with the eval room's metrics,
 * with bootstrap intervals, price per 1,000 requests and latency. It is `tunekit eval` with two
 * strategies, "old" (zero-shot on the old endpoint: the old fine-tune answers the plain prompt)
 * and "new" (the fine-tuned strategy), and a verdict on the paired difference.
 */

export const PARITY_REPORT_VERSION = 1;

export type ParityVerdict = "equivalent" | "better" | "worse";

export interface ParitySide {
  label: string;
  model: string;
  endpoint: string;
  metrics: Record<string, ConfidenceInterval>;
  per1000Requests: number | null;
  costBasis: string;
  latency: { p50Ms: number; p95Ms: number };
  tokens: { meanPrompt: number; meanCompletion: number };
}

/** report.json of `tunekit migrate parity` */
export interface ParityReport {
  version: number;
  kind: "parity";
  createdAt: string;
  examples: number;
  exampleFile: string;
  /** where the examples come from, and what that means for the comparison */
  exampleNote: string;
  metric: string;
  tolerance: number;
  confidence: number;
  old: ParitySide;
  new: ParitySide;
  /** new minus old on the primary metric, paired by example */
  difference: ConfidenceInterval;
  /** every metric's paired difference */
  differences: Record<string, ConfidenceInterval>;
  verdict: ParityVerdict;
  /** the report's last line: "equivalent", "better ..." or "worse, by ..." */
  conclusion: string;
  currency: string;
  /** the eval run behind it (every example, answer and score) */
  eval: EvalReport;
}

export interface ParityOptions {
  old: { endpoint: Partial<EndpointConfig>; model: string; label?: string };
  new: { endpoint: Partial<EndpointConfig>; model: string; label?: string };
  /** held-out examples (JSONL) */
  exampleFile: string;
  exampleNote: string;
  /** the training file, for the report's task line */
  trainFile: string;
  metrics?: string[];
  limit?: number | null;
  maxTokens?: number;
  tolerance?: number;
  seed?: number;
  concurrency?: number;
  log?: (line: string) => void;
}

const fmt = (value: number, digits = 3) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");
const signed = (value: number, digits = 3) => `${value >= 0 ? "+" : ""}${fmt(value, digits)}`;

/** new - old for each example, on one metric; examples a side could not score are left out */
function pairedDifferences(old: StrategyResult, replacement: StrategyResult, metric: string): number[] {
  const byLine = new Map(old.examples.map((example) => [example.line, example.scores[metric]]));
  const differences: number[] = [];
  for (const example of replacement.examples) {
    const before = byLine.get(example.line);
    const after = example.scores[metric];
    if (typeof before === "number" && typeof after === "number") differences.push(after - before);
  }
  return differences;
}

/**
 * The verdict on the paired difference d (new - old) of the primary metric, with tolerance t:
 * worse when d < -t (a migration must not lose quality quietly, so a drop beyond t counts even
 * when its interval reaches 0, and the conclusion says so); better when d > t and the interval is
 * above 0; otherwise equivalent.
 */
export function parityVerdict(difference: ConfidenceInterval, tolerance: number, metric: string): { verdict: ParityVerdict; conclusion: string } {
  const interval = `${Math.round(difference.level * 100)}% interval ${signed(difference.low)} to ${signed(difference.high)}, ${difference.n} paired examples`;
  if (difference.mean < -tolerance) {
    const firm = difference.high < 0 ? "" : "; the interval reaches 0, so more examples would firm this up";
    return { verdict: "worse", conclusion: `worse, by ${fmt(-difference.mean)} ${metric} (${interval})${firm}` };
  }
  if (difference.mean > tolerance && difference.low > 0) {
    return { verdict: "better", conclusion: `better, by ${fmt(difference.mean)} ${metric} (${interval})` };
  }
  return { verdict: "equivalent", conclusion: `equivalent: ${signed(difference.mean)} ${metric}, within the tolerance of ${tolerance} (${interval})` };
}

function side(result: StrategyResult, label: string): ParitySide {
  return {
    label,
    model: result.model,
    endpoint: result.endpoint,
    metrics: result.metrics,
    per1000Requests: result.cost.per1000Requests,
    costBasis: result.cost.basis,
    latency: { p50Ms: result.latency.p50Ms, p95Ms: result.latency.p95Ms },
    tokens: { meanPrompt: result.tokens.meanPrompt, meanCompletion: result.tokens.meanCompletion },
  };
}

export async function runParity(options: ParityOptions): Promise<ParityReport> {
  const tolerance = options.tolerance ?? 0.02;
  const seed = options.seed ?? 42;
  const loaded = {
    config: parseConfig(
      {
        model: options.new.model,
        data: { train: options.trainFile, test: options.exampleFile },
        eval: {
          strategies: ["zero-shot", "fine-tuned"],
          ...(options.metrics && { metrics: options.metrics }),
          limit: options.limit ?? null,
          max_tokens: options.maxTokens ?? 256,
          tolerance,
          seed,
          concurrency: options.concurrency ?? 1,
          base: { ...options.old.endpoint, model: options.old.model },
          fine_tuned: { endpoint: { ...options.new.endpoint, model: options.new.model } },
        },
      },
      "the parity run",
    ),
    path: null,
    baseDir: process.cwd(),
  };
  const report = await runEval({
    loaded,
    log: options.log,
    fineTuningCost: { cost: null, basis: "not part of a parity report (see the migrated job)", trainingTokens: null, trainingSeconds: null },
  });
  const [oldResult, newResult] = report.strategies as [StrategyResult, StrategyResult];
  const settings = report.settings;
  const differences: Record<string, ConfidenceInterval> = {};
  report.metrics.forEach((entry, index) => {
    differences[entry.name] = bootstrapMean(pairedDifferences(oldResult, newResult, entry.name), {
      samples: settings.bootstrapSamples,
      level: settings.confidence,
      seed: seed + index,
    });
  });
  const metric = report.metrics.find((entry) => entry.primary)!.name;
  const difference = differences[metric]!;
  const { verdict, conclusion } = parityVerdict(difference, tolerance, metric);
  return {
    version: PARITY_REPORT_VERSION,
    kind: "parity",
    createdAt: report.createdAt,
    examples: report.task.testExamples,
    exampleFile: options.exampleFile,
    exampleNote: options.exampleNote,
    metric,
    tolerance,
    confidence: settings.confidence,
    old: side(oldResult, options.old.label ?? "old"),
    new: side(newResult, options.new.label ?? "new"),
    difference,
    differences,
    verdict,
    conclusion,
    currency: report.currency,
    eval: report,
  };
}

const money = (value: number | null, currency: string) => (value === null ? "n/a" : `${currency} ${value < 0.01 && value > 0 ? value.toPrecision(2) : value.toFixed(2)}`);

export function renderParityMarkdown(report: ParityReport): string {
  const metrics = Object.keys(report.differences);
  const row = (entry: ParitySide) =>
    `| ${entry.label} | \`${entry.model}\` | ${metrics.map((name) => `${fmt(entry.metrics[name]!.mean)} (${fmt(entry.metrics[name]!.low)}–${fmt(entry.metrics[name]!.high)})`).join(" | ")} | ${money(entry.per1000Requests, report.currency)} | ${fmt(entry.latency.p50Ms, 0)} / ${fmt(entry.latency.p95Ms, 0)} |`;
  const lines = [
    `# Parity: \`${report.old.model}\` -> \`${report.new.model}\``,
    "",
    `${report.examples} held-out examples from \`${report.exampleFile}\`. ${report.exampleNote}`,
    `Primary metric: ${report.metric}; tolerance ${report.tolerance}; ${Math.round(report.confidence * 100)}% bootstrap intervals.`,
    "",
    `| model | id | ${metrics.join(" | ")} | per 1,000 requests | latency p50 / p95 ms |`,
    `| --- | --- | ${metrics.map(() => "---").join(" | ")} | --- | --- |`,
    row(report.old),
    row(report.new),
    "",
    "Paired difference (new - old):",
    "",
    ...metrics.map((name) => `- ${name}: ${signed(report.differences[name]!.mean)} (${signed(report.differences[name]!.low)} to ${signed(report.differences[name]!.high)})`),
    "",
    `Price basis: old ${report.old.costBasis}; new ${report.new.costBasis}.`,
    "",
    `**Verdict: ${report.conclusion}.**`,
    "",
  ];
  return lines.join("\n");
}

export function renderParityHtml(report: ParityReport): string {
  const e = escapeXml;
  const metrics = Object.keys(report.differences);
  const chart = metricBarsChart(
    metrics.map((name) => ({
      metric: name,
      bars: [report.old, report.new].map((entry, index) => ({
        name: index === 0 ? "zero-shot" : "fine-tuned",
        mean: entry.metrics[name]!.mean,
        low: entry.metrics[name]!.low,
        high: entry.metrics[name]!.high,
      })),
    })),
    report.confidence,
  );
  const row = (entry: ParitySide) =>
    `<tr><td><b>${e(entry.label)}</b></td><td><code>${e(entry.model)}</code><br><span class="muted">${e(entry.endpoint)}</span></td>${metrics.map((name) => `<td class="num">${fmt(entry.metrics[name]!.mean)}<br><span class="muted">${fmt(entry.metrics[name]!.low)}–${fmt(entry.metrics[name]!.high)}</span></td>`).join("")}<td class="num" title="${e(entry.costBasis)}">${e(money(entry.per1000Requests, report.currency))}</td><td class="num">${fmt(entry.latency.p50Ms, 0)} / ${fmt(entry.latency.p95Ms, 0)}</td></tr>`;
  const differences = metrics
    .map((name) => `<li>${e(name)}: ${signed(report.differences[name]!.mean)} (${signed(report.differences[name]!.low)} to ${signed(report.differences[name]!.high)})</li>`)
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parity: ${e(report.old.model)} to ${e(report.new.model)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:980px;margin:2rem auto;padding:0 1rem;color:#111827}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e5e7eb;padding:.4rem .5rem;text-align:left;vertical-align:top}.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#4b5563;font-size:.85em}.verdict{font-size:1.2rem;padding:.8rem 1rem;border-radius:6px;background:${report.verdict === "worse" ? "#fee2e2" : report.verdict === "better" ? "#dcfce7" : "#e0e7ff"}}</style>
</head><body>
<h1>Parity: <code>${e(report.old.model)}</code> → <code>${e(report.new.model)}</code></h1>
<p>${report.examples} held-out examples from <code>${e(report.exampleFile)}</code>. ${e(report.exampleNote)}</p>
<p>Primary metric <b>${e(report.metric)}</b>, tolerance ${report.tolerance}, ${Math.round(report.confidence * 100)}% bootstrap intervals.</p>
<table><thead><tr><th>model</th><th>id</th>${metrics.map((name) => `<th class="num">${e(name)}</th>`).join("")}<th class="num">per 1,000 requests</th><th class="num">latency p50 / p95 ms</th></tr></thead>
<tbody>${row(report.old)}${row(report.new)}</tbody></table>
<figure>${chart}<figcaption class="muted">grey: old (${e(report.old.model)}); green: new (${e(report.new.model)})</figcaption></figure>
<h2>Paired difference (new − old)</h2><ul>${differences}</ul>
<p class="verdict" role="status"><b>Verdict:</b> ${e(report.conclusion)}.</p>
</body></html>
`;
}

/** report.json, report.md and report.html in `dir`. */
export async function writeParityReport(report: ParityReport, dir: string): Promise<{ json: string; markdown: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const files = { json: path.join(dir, "report.json"), markdown: path.join(dir, "report.md"), html: path.join(dir, "report.html") };
  await writeFile(files.json, `${JSON.stringify(snakeKeys(report), null, 2)}\n`);
  await writeFile(files.markdown, renderParityMarkdown(report));
  await writeFile(files.html, renderParityHtml(report));
  return files;
}
