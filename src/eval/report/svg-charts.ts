/**
 * Hand-made SVG charts for the report. Why not Chart.js: the report must open offline and render
 * without scripts; Chart.js would add ~200 KB of JavaScript to every report and draw on a canvas
 * (not searchable, not printable as vectors), for three plain chart types. Static SVG needs no
 * script at all, so the page cannot throw console errors or fetch anything.
 */

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/gu, (character) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[character]!);
}

export const STRATEGY_COLORS: Record<string, string> = {
  "zero-shot": "#6b7280",
  "few-shot": "#2563eb",
  rag: "#d97706",
  "fine-tuned": "#16a34a",
};

const color = (name: string) => STRATEGY_COLORS[name] ?? "#7c3aed";
const fmt = (value: number, digits = 3) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");

/** "Nice" axis ticks over [0, max]. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= raw) ?? raw;
  const ticks: number[] = [];
  for (let tick = 0; tick <= max + step * 1e-9; tick += step) ticks.push(Number(tick.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

const tickLabel = (value: number) => (value >= 1000 ? value.toLocaleString("en-US") : String(Number(value.toPrecision(4))));

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function axes(frame: Frame, xTicks: number[], yTicks: number[], x: (v: number) => number, y: (v: number) => number, xLabel: string, yLabel: string, yFormat = tickLabel): string {
  const parts: string[] = [];
  for (const tick of yTicks) {
    parts.push(`<line x1="${frame.left}" x2="${frame.width - frame.right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${frame.left - 6}" y="${y(tick) + 4}" text-anchor="end" font-size="11" fill="#374151">${escapeXml(yFormat(tick))}</text>`);
  }
  for (const tick of xTicks) {
    parts.push(`<line x1="${x(tick)}" x2="${x(tick)}" y1="${frame.height - frame.bottom}" y2="${frame.height - frame.bottom + 4}" stroke="#374151"/>`);
    parts.push(`<text x="${x(tick)}" y="${frame.height - frame.bottom + 17}" text-anchor="middle" font-size="11" fill="#374151">${escapeXml(tickLabel(tick))}</text>`);
  }
  parts.push(`<line x1="${frame.left}" x2="${frame.width - frame.right}" y1="${frame.height - frame.bottom}" y2="${frame.height - frame.bottom}" stroke="#374151"/>`);
  parts.push(`<line x1="${frame.left}" x2="${frame.left}" y1="${frame.top}" y2="${frame.height - frame.bottom}" stroke="#374151"/>`);
  parts.push(`<text x="${(frame.left + frame.width - frame.right) / 2}" y="${frame.height - 6}" text-anchor="middle" font-size="12" fill="#111827">${escapeXml(xLabel)}</text>`);
  parts.push(
    `<text transform="translate(14 ${(frame.top + frame.height - frame.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#111827">${escapeXml(yLabel)}</text>`,
  );
  return parts.join("");
}

function svg(frame: Frame, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 ${frame.width} ${frame.height}" width="${frame.width}" height="${frame.height}"><title>${escapeXml(title)}</title>${body}</svg>`;
}

export interface QualityCostPoint {
  name: string;
  cost: number | null;
  score: number;
  low: number;
  high: number;
}

/** One point per strategy: price per 1,000 requests (x) against the primary metric (y), with its interval. */
export function qualityCostChart(points: readonly QualityCostPoint[], metric: string, currency: string): string {
  const frame: Frame = { width: 560, height: 340, left: 56, right: 120, top: 16, bottom: 44 };
  const priced = points.filter((point) => point.cost !== null);
  const xTicks = niceTicks(Math.max(...priced.map((point) => point.cost!), 0) * 1.1 || 1);
  const xMax = xTicks[xTicks.length - 1]!;
  const yTicks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const x = (value: number) => frame.left + (value / xMax) * (frame.width - frame.left - frame.right);
  const y = (value: number) => frame.top + (1 - value) * (frame.height - frame.top - frame.bottom);
  const marks = priced
    .map((point) => {
      const cx = x(point.cost!).toFixed(1);
      return (
        `<g><title>${escapeXml(`${point.name}: ${fmt(point.score)} (${fmt(point.low)}-${fmt(point.high)}), ${currency} ${fmt(point.cost!, 4)} per 1,000 requests`)}</title>` +
        `<line x1="${cx}" x2="${cx}" y1="${y(point.high).toFixed(1)}" y2="${y(point.low).toFixed(1)}" stroke="${color(point.name)}" stroke-width="2"/>` +
        `<circle cx="${cx}" cy="${y(point.score).toFixed(1)}" r="6" fill="${color(point.name)}"/>` +
        `<text x="${(Number(cx) + 9).toFixed(1)}" y="${(y(point.score) + 4).toFixed(1)}" font-size="12" fill="${color(point.name)}">${escapeXml(point.name)}</text></g>`
      );
    })
    .join("");
  return svg(frame, `Quality (${metric}) against price per 1,000 requests`, axes(frame, xTicks, yTicks, x, y, `price per 1,000 requests (${currency})`, metric) + marks);
}

export interface MetricBars {
  metric: string;
  bars: Array<{ name: string; mean: number; low: number; high: number }>;
}

/** Grouped bars: one group per metric, one bar per strategy, whiskers for the interval. */
export function metricBarsChart(groups: readonly MetricBars[], confidence: number): string {
  const strategies = groups[0]?.bars.length ?? 0;
  const barWidth = 22;
  const groupWidth = strategies * barWidth + 24;
  const frame: Frame = { width: Math.max(360, 70 + groups.length * groupWidth + 20, 50 + strategies * 110), height: 300, left: 50, right: 20, top: 16, bottom: 60 };
  const y = (value: number) => frame.top + (1 - Math.max(0, Math.min(1, value))) * (frame.height - frame.top - frame.bottom);
  const parts: string[] = [];
  for (const tick of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
    parts.push(`<line x1="${frame.left}" x2="${frame.width - frame.right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${frame.left - 6}" y="${y(tick) + 4}" text-anchor="end" font-size="11" fill="#374151">${tick}</text>`);
  }
  groups.forEach((group, groupIndex) => {
    const start = frame.left + 12 + groupIndex * groupWidth;
    group.bars.forEach((bar, barIndex) => {
      const left = start + barIndex * barWidth;
      const mid = left + (barWidth - 4) / 2;
      const label = `${group.metric}, ${bar.name}: ${fmt(bar.mean)} (${Math.round(confidence * 100)}% interval ${fmt(bar.low)}-${fmt(bar.high)})`;
      parts.push(
        `<g><title>${escapeXml(label)}</title><rect x="${left}" y="${y(bar.mean).toFixed(1)}" width="${barWidth - 4}" height="${(y(0) - y(bar.mean)).toFixed(1)}" fill="${color(bar.name)}"/>` +
          `<line x1="${mid}" x2="${mid}" y1="${y(bar.high).toFixed(1)}" y2="${y(bar.low).toFixed(1)}" stroke="#111827"/>` +
          `<line x1="${mid - 4}" x2="${mid + 4}" y1="${y(bar.high).toFixed(1)}" y2="${y(bar.high).toFixed(1)}" stroke="#111827"/>` +
          `<line x1="${mid - 4}" x2="${mid + 4}" y1="${y(bar.low).toFixed(1)}" y2="${y(bar.low).toFixed(1)}" stroke="#111827"/></g>`,
      );
    });
    parts.push(
      `<text x="${start + (strategies * barWidth) / 2}" y="${frame.height - frame.bottom + 16}" text-anchor="middle" font-size="11" fill="#111827">${escapeXml(group.metric)}</text>`,
    );
  });
  parts.push(`<line x1="${frame.left}" x2="${frame.width - frame.right}" y1="${y(0)}" y2="${y(0)}" stroke="#374151"/>`);
  const legend = (groups[0]?.bars ?? [])
    .map(
      (bar, index) =>
        `<rect x="${frame.left + index * 110}" y="${frame.height - 24}" width="10" height="10" fill="${color(bar.name)}"/><text x="${frame.left + 14 + index * 110}" y="${frame.height - 15}" font-size="11" fill="#111827">${escapeXml(bar.name)}</text>`,
    )
    .join("");
  return svg(frame, "Every metric per strategy with bootstrap intervals", parts.join("") + legend);
}

export interface BreakEvenLine {
  name: string;
  /** cost before the first request (training) */
  upfront: number;
  per1000: number;
}

/** Cumulative cost against requests served: lines cross at the break-even point (marked when given). */
export function breakEvenChart(lines: readonly BreakEvenLine[], breakEven: number | null, currency: string, horizon: number): string {
  const frame: Frame = { width: 560, height: 320, left: 64, right: 110, top: 16, bottom: 44 };
  const maxRequests = breakEven !== null && breakEven > 0 ? Math.max(breakEven * 2, 1000) : horizon;
  const xTicks = niceTicks(maxRequests);
  const xMax = xTicks[xTicks.length - 1]!;
  const costAt = (line: BreakEvenLine, requests: number) => line.upfront + (requests / 1000) * line.per1000;
  const yTicks = niceTicks(Math.max(...lines.map((line) => costAt(line, xMax)), 1e-6) * 1.05);
  const yMax = yTicks[yTicks.length - 1]!;
  const x = (value: number) => frame.left + (value / xMax) * (frame.width - frame.left - frame.right);
  const y = (value: number) => frame.top + (1 - value / yMax) * (frame.height - frame.top - frame.bottom);
  const paths = lines
    .map(
      (line) =>
        `<g><title>${escapeXml(`${line.name}: ${currency} ${fmt(line.upfront, 2)} up front + ${fmt(line.per1000, 4)} per 1,000 requests`)}</title>` +
        `<line x1="${x(0)}" y1="${y(line.upfront).toFixed(1)}" x2="${x(xMax)}" y2="${y(costAt(line, xMax)).toFixed(1)}" stroke="${color(line.name)}" stroke-width="2.5"/>` +
        `<text x="${x(xMax) + 6}" y="${(y(costAt(line, xMax)) + 4).toFixed(1)}" font-size="12" fill="${color(line.name)}">${escapeXml(line.name)}</text></g>`,
    )
    .join("");
  const marker =
    breakEven !== null && breakEven > 0 && breakEven <= xMax && lines[0]
      ? `<line x1="${x(breakEven)}" x2="${x(breakEven)}" y1="${frame.top}" y2="${frame.height - frame.bottom}" stroke="#111827" stroke-dasharray="4 3"/>` +
        `<text x="${x(breakEven) + 4}" y="${frame.top + 12}" font-size="11" fill="#111827">break-even: ${escapeXml(breakEven.toLocaleString("en-US"))} requests</text>`
      : "";
  return svg(frame, "Cumulative cost against requests served", axes(frame, xTicks, yTicks, x, y, "requests served", `cumulative cost (${currency})`) + paths + marker);
}
