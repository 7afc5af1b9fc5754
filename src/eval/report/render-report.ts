import type { EvalReport, ExampleResult, StrategyResult } from "../run-eval.js";
import { breakEvenChart, escapeXml, metricBarsChart, qualityCostChart, type BreakEvenLine } from "./svg-charts.js";

const WORST_EXAMPLES = 3;

const fmt = (value: number | null | undefined, digits = 3) => (value === null || value === undefined || !Number.isFinite(value) ? "n/a" : value.toFixed(digits));
const money = (value: number | null, currency: string) => (value === null ? "unknown" : `${currency} ${value < 1 ? value.toPrecision(3) : value.toFixed(2)}`);
const clip = (text: string, length = 300) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);

function primaryMetric(report: EvalReport): string {
  return report.metrics.find((metric) => metric.primary)?.name ?? report.metrics[0]!.name;
}

/** The lowest-scoring examples of a strategy on the primary metric (ties: file order). */
export function worstExamples(result: StrategyResult, metric: string, count = WORST_EXAMPLES): ExampleResult[] {
  return [...result.examples]
    .filter((example) => typeof example.scores[metric] === "number")
    .sort((left, right) => left.scores[metric]! - right.scores[metric]! || left.line - right.line)
    .slice(0, count);
}

/** The lines of the break-even chart: the fine-tuned model (training up front) and the baseline it is compared with. */
export function breakEvenLines(report: EvalReport): BreakEvenLine[] {
  const breakEven = report.recommendation.breakEven;
  if (!breakEven) return [];
  return [
    { name: "fine-tuned", upfront: breakEven.trainingCost, per1000: breakEven.fineTunedPer1000 },
    { name: breakEven.against, upfront: 0, per1000: breakEven.baselinePer1000 },
  ];
}

function charts(report: EvalReport) {
  const metric = primaryMetric(report);
  const quality = qualityCostChart(
    report.strategies.map((result) => ({ name: result.strategy, cost: result.cost.per1000Requests, ...scoreOf(result, metric) })),
    metric,
    report.currency,
  );
  const bars = metricBarsChart(
    report.metrics.map((entry) => ({
      metric: entry.name,
      bars: report.strategies.map((result) => ({
        name: result.strategy,
        mean: result.metrics[entry.name]?.mean ?? Number.NaN,
        low: result.metrics[entry.name]?.low ?? Number.NaN,
        high: result.metrics[entry.name]?.high ?? Number.NaN,
      })),
    })),
    report.settings.confidence,
  );
  const lines = breakEvenLines(report);
  const breakEven = lines.length > 0 ? breakEvenChart(lines, report.recommendation.breakEven!.requests, report.currency, report.settings.expectedRequests) : null;
  return { quality, bars, breakEven };
}

function scoreOf(result: StrategyResult, metric: string) {
  const interval = result.metrics[metric];
  return { score: interval?.mean ?? Number.NaN, low: interval?.low ?? Number.NaN, high: interval?.high ?? Number.NaN };
}

export function renderMarkdown(report: EvalReport): string {
  const metric = primaryMetric(report);
  const recommendation = report.recommendation;
  const lines: string[] = [];
  lines.push(`# Should we fine-tune? — Tunekit ${report.kind} report`, "");
  lines.push(`**Recommendation (\`${recommendation.verdict}\`):** ${recommendation.headline}`, "");
  lines.push("## The four questions", "");
  lines.push(`- **Use case.** ${recommendation.useCase}`);
  lines.push(`- **Alternatives.** ${recommendation.alternatives}`);
  lines.push(`- **Cost.** ${recommendation.cost}`);
  lines.push(`- **Benefit.** ${recommendation.benefit}`, "");
  lines.push("## Strategies", "");
  const metricNames = report.metrics.map((entry) => entry.name);
  lines.push(
    `| strategy | model | ${metricNames.map((name) => `${name}${name === metric ? " (primary)" : ""}`).join(" | ")} | prompt tok | completion tok | p50 ms | p95 ms | per 1,000 requests |`,
  );
  lines.push(`| --- | --- | ${metricNames.map(() => "---").join(" | ")} | --- | --- | --- | --- | --- |`);
  for (const result of report.strategies) {
    const cells = metricNames.map((name) => {
      const interval = result.metrics[name];
      return interval ? `${fmt(interval.mean)} [${fmt(interval.low)}, ${fmt(interval.high)}]` : "n/a";
    });
    lines.push(
      `| ${result.strategy} | \`${result.model}\` | ${cells.join(" | ")} | ${fmt(result.tokens.meanPrompt, 1)} | ${fmt(result.tokens.meanCompletion, 1)} | ${fmt(result.latency.p50Ms, 0)} | ${fmt(result.latency.p95Ms, 0)} | ${money(result.cost.per1000Requests, report.currency)} |`,
    );
  }
  lines.push("");
  lines.push(
    `Intervals: ${Math.round(report.settings.confidence * 100)}% percentile bootstrap, ${report.settings.bootstrapSamples} resamples, seed ${report.settings.seed}. Same quality = within ${report.settings.tolerance} on \`${metric}\`.`,
    "",
  );
  for (const result of report.strategies) {
    lines.push(
      `- **${result.strategy}** (${result.description}${result.selection ? `; ${result.selection}` : ""}): tokens from ${result.tokens.source}; price: ${result.cost.basis}.`,
    );
  }
  lines.push("");
  lines.push("## Fine-tuning cost and break-even", "");
  lines.push(`Fine-tuning: ${money(report.fineTuning.cost, report.currency)} (${report.fineTuning.basis}).`);
  const breakEven = recommendation.breakEven;
  if (breakEven) {
    lines.push(
      `Against ${breakEven.against} (${breakEven.why}): ${breakEven.requests === null ? "never breaks even on cost (the fine-tuned model does not cost less per request)" : `breaks even after ${breakEven.requests.toLocaleString("en-US")} requests`}.`,
    );
  }
  lines.push("");
  lines.push("## Metrics", "");
  for (const entry of report.metrics) lines.push(`- \`${entry.name}\`${entry.primary ? " (primary)" : ""}: ${entry.description}`);
  lines.push("");
  lines.push(`## Worst examples (lowest \`${metric}\`)`, "");
  for (const result of report.strategies) {
    lines.push(`### ${result.strategy}`, "");
    lines.push(`| line | ${metric} | input | reference | answer |`, "| --- | --- | --- | --- | --- |");
    const cell = (text: string) => clip(text, 160).replace(/\|/gu, "\\|").replace(/\r?\n/gu, " ⏎ ");
    for (const example of worstExamples(result, metric)) {
      lines.push(`| ${example.line} | ${fmt(example.scores[metric])} | ${cell(example.input)} | ${cell(example.reference)} | ${cell(example.answer)} |`);
    }
    lines.push("");
  }
  lines.push(`Test set: \`${report.task.testFile}\` (${report.task.testExamples} examples). Created ${report.createdAt}.`, "");
  return lines.join("\n");
}

const STYLE = `
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111827;max-width:1100px;margin:24px auto;padding:0 16px}
h1{font-size:24px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #e5e7eb}h3{font-size:16px}
.verdict{padding:14px 18px;border-radius:8px;font-size:16px}.fine-tune{background:#dcfce7}.do-not-fine-tune-yet{background:#fef3c7}.evaluate-fine-tuned{background:#e0e7ff}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #d1d5db;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f4f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}td pre{white-space:pre-wrap;margin:0;font:12px/1.4 ui-monospace,monospace;max-width:360px}
.charts{display:flex;flex-wrap:wrap;gap:24px}figure{margin:0}figcaption{font-size:13px;color:#4b5563;max-width:560px}.muted{color:#6b7280;font-size:13px}
`;

/** A self-contained page: inline CSS and inline SVG, no script, no external URL. */
export function renderHtml(report: EvalReport): string {
  const metric = primaryMetric(report);
  const recommendation = report.recommendation;
  const { quality, bars, breakEven } = charts(report);
  const e = escapeXml;
  const metricNames = report.metrics.map((entry) => entry.name);
  const rows = report.strategies
    .map((result) => {
      const cells = metricNames
        .map((name) => {
          const interval = result.metrics[name];
          return `<td class="num">${interval ? `${fmt(interval.mean)}<br><span class="muted">${fmt(interval.low)}–${fmt(interval.high)}</span>` : "n/a"}</td>`;
        })
        .join("");
      return `<tr><td><b>${e(result.strategy)}</b><br><span class="muted">${e(result.description)}${result.selection ? `; ${e(result.selection)}` : ""}</span></td><td><code>${e(result.model)}</code></td>${cells}<td class="num">${fmt(result.tokens.meanPrompt, 1)}</td><td class="num">${fmt(result.tokens.meanCompletion, 1)}</td><td class="num">${fmt(result.latency.p50Ms, 0)}</td><td class="num">${fmt(result.latency.p95Ms, 0)}</td><td class="num" title="${e(result.cost.basis)}">${e(money(result.cost.per1000Requests, report.currency))}</td></tr>`;
    })
    .join("");
  const worst = report.strategies
    .map((result) => {
      const body = worstExamples(result, metric)
        .map(
          (example) =>
            `<tr><td class="num">${example.line}</td><td class="num">${fmt(example.scores[metric])}</td><td><pre>${e(clip(example.input))}</pre></td><td><pre>${e(clip(example.reference))}</pre></td><td><pre>${e(clip(example.answer))}</pre></td></tr>`,
        )
        .join("");
      return `<h3>${e(result.strategy)}</h3><table><thead><tr><th>line</th><th>${e(metric)}</th><th>input</th><th>reference</th><th>answer</th></tr></thead><tbody>${body}</tbody></table>`;
    })
    .join("");
  const breakEvenText = recommendation.breakEven
    ? recommendation.breakEven.requests === null
      ? `Against ${recommendation.breakEven.against} (${recommendation.breakEven.why}) the fine-tuned model never breaks even on cost: it does not cost less per request.`
      : `Against ${recommendation.breakEven.against} (${recommendation.breakEven.why}) fine-tuning pays for itself after ${recommendation.breakEven.requests.toLocaleString("en-US")} requests.`
    : "No break-even: the fine-tuning cost or a per-request price is unknown.";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Tunekit ${e(report.kind)} report: should we fine-tune?</title><style>${STYLE}</style></head><body>
<h1>Should we fine-tune?</h1>
<p class="verdict ${e(recommendation.verdict)}" data-verdict="${e(recommendation.verdict)}">${e(recommendation.headline)}</p>
<h2>The four questions</h2>
<dl><dt><b>Use case</b></dt><dd>${e(recommendation.useCase)}</dd><dt><b>Alternatives</b></dt><dd>${e(recommendation.alternatives)}</dd><dt><b>Cost</b></dt><dd>${e(recommendation.cost)}</dd><dt><b>Benefit</b></dt><dd>${e(recommendation.benefit)}</dd></dl>
<h2>Quality, cost and break-even</h2>
<div class="charts">
<figure>${quality}<figcaption>Quality (<code>${e(metric)}</code>, ${Math.round(report.settings.confidence * 100)}% interval as a vertical line) against price per 1,000 requests. Up and left is better.</figcaption></figure>
${breakEven ? `<figure>${breakEven}<figcaption>${e(breakEvenText)} Fine-tuned: training cost up front (${e(report.fineTuning.basis)}).</figcaption></figure>` : `<p>${e(breakEvenText)}</p>`}
</div>
<h2>Every metric</h2>
<figure>${bars}<figcaption>Bars: mean score; whiskers: ${Math.round(report.settings.confidence * 100)}% percentile bootstrap interval (${report.settings.bootstrapSamples} resamples, seed ${report.settings.seed}).</figcaption></figure>
<table><thead><tr><th>strategy</th><th>model</th>${metricNames.map((name) => `<th>${e(name)}${name === metric ? " (primary)" : ""}</th>`).join("")}<th>prompt tokens</th><th>completion tokens</th><th>p50 ms</th><th>p95 ms</th><th>per 1,000 requests</th></tr></thead><tbody>${rows}</tbody></table>
<ul>${report.metrics.map((entry) => `<li><code>${e(entry.name)}</code>: ${e(entry.description)}</li>`).join("")}</ul>
<ul class="muted">${report.strategies.map((result) => `<li>${e(result.strategy)}: tokens from ${e(result.tokens.source)}; price: ${e(result.cost.basis)}</li>`).join("")}</ul>
<h2>Worst examples (lowest <code>${e(metric)}</code>)</h2>
${worst}
<p class="muted">Test set ${e(report.task.testFile)} (${report.task.testExamples} examples); created ${e(report.createdAt)} by Tunekit.</p>
</body></html>
`;
}
