import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { smooth } from "../lib/smoothing.js";

export interface ChartLine {
  label: string;
  values: ReadonlyArray<number | null>;
  color: string;
  /** draw a smoothed copy over the raw line (losses, accuracies) */
  smoothable: boolean;
}

export interface MetricChartProps {
  title: string;
  x: ReadonlyArray<number>;
  xLabel: string;
  lines: ChartLine[];
  /** bumped when the data changed */
  version: number;
  smoothing: number;
  logScale: boolean;
  /** x positions of checkpoints, drawn as dashed vertical lines */
  markers: ReadonlyArray<number>;
  syncKey: string;
  height?: number;
}

/**
 * One live chart (uPlot on a canvas): the raw line stays visible, faded, under its smoothed line;
 * checkpoints are dashed verticals; the cursor moves with the other charts of the same sync key.
 * Data changes redraw at most once per animation frame, so 20,000 points stay smooth.
 */
export function MetricChart({ title, x, xLabel, lines, version, smoothing, logScale, markers, syncKey, height = 180 }: MetricChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const markersRef = useRef(markers);
  markersRef.current = markers;
  const frame = useRef<number | null>(null);

  const data = (): uPlot.AlignedData => {
    const columns: Array<ReadonlyArray<number | null>> = [x as number[]];
    for (const line of lines) {
      const raw = logScale ? line.values.map((value) => (value !== null && value > 0 ? value : null)) : line.values;
      columns.push(raw);
      if (line.smoothable) columns.push(smooth(raw, smoothing));
    }
    return columns as uPlot.AlignedData;
  };

  // (re)build the chart when its shape changes: lines, log scale, smoothing on/off
  const shape = `${lines.map((line) => `${line.label}:${line.smoothable}`).join("|")}|${logScale}|${xLabel}`;
  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const series: uPlot.Series[] = [{ label: xLabel }];
    for (const line of lines) {
      // uPlot draws the points themselves only while they are sparse (a few evaluations), never at 20,000
      series.push({
        label: line.smoothable ? `${line.label} (raw)` : line.label,
        stroke: line.smoothable ? fade(line.color) : line.color,
        width: 1,
        spanGaps: true,
        value: (_chart, value) => formatTick(value),
      });
      if (line.smoothable) series.push({ label: line.label, stroke: line.color, width: 2, spanGaps: true, value: (_chart, value) => formatTick(value) });
    }
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      series,
      legend: { show: true, live: true },
      cursor: { sync: { key: syncKey }, drag: { x: true, y: false } },
      scales: { x: { time: false }, y: logScale ? { distr: 3 } : {} },
      axes: [
        { label: xLabel, stroke: "#4a5160", grid: { stroke: "#e3e6ec" }, ticks: { stroke: "#e3e6ec" } },
        { stroke: "#4a5160", grid: { stroke: "#e3e6ec" }, ticks: { stroke: "#e3e6ec" }, size: 64, values: (_chart, splits) => splits.map(formatTick) },
      ],
      hooks: {
        draw: [
          (chart) => {
            const context = chart.ctx;
            context.save();
            context.strokeStyle = "#8a5a00";
            context.setLineDash([4, 4]);
            context.lineWidth = 1;
            for (const marker of markersRef.current) {
              const position = chart.valToPos(marker, "x", true);
              if (!Number.isFinite(position) || position < chart.bbox.left || position > chart.bbox.left + chart.bbox.width) continue;
              context.beginPath();
              context.moveTo(position, chart.bbox.top);
              context.lineTo(position, chart.bbox.top + chart.bbox.height);
              context.stroke();
            }
            context.restore();
          },
        ],
      },
    };
    // the old chart stays on screen until its replacement is built; builds of several charts (a
    // log-scale toggle rebuilds all six) go one per animation frame, so no frame takes them all
    let resize: ResizeObserver | null = null;
    const cancel = scheduleBuild(() => {
      plot.current?.destroy();
      const chart = new uPlot(options, data(), element);
      plot.current = chart;
      resize = new ResizeObserver(() => chart.setSize({ width: Math.max(200, element.clientWidth), height }));
      resize.observe(element);
    });
    return () => {
      cancel();
      resize?.disconnect();
    };
  }, [shape, height, syncKey]);

  useEffect(
    () => () => {
      plot.current?.destroy();
      plot.current = null;
    },
    [],
  );

  // new points (or a new smoothing weight): one setData per animation frame
  useEffect(() => {
    if (frame.current !== null) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = null;
      plot.current?.setData(data());
    });
  }, [version, smoothing, markers.length]);

  useEffect(
    () => () => {
      if (frame.current !== null) cancelAnimationFrame(frame.current);
    },
    [],
  );

  const last = lines.map((line) => lastValue(line.values)).find((value) => value !== null);
  return (
    <figure class="chart" data-points={x.length} aria-label={`${title} chart${last !== undefined && last !== null ? `, latest ${last.toPrecision(4)}` : ""}`}>
      <figcaption>{title}</figcaption>
      <div ref={container} class="chart-canvas" />
    </figure>
  );
}

const builds: Array<() => void> = [];
let building = false;

/** Run `build` in a later animation frame, one build per frame; returns a function that cancels it. */
function scheduleBuild(build: () => void): () => void {
  let cancelled = false;
  builds.push(() => {
    if (!cancelled) build();
  });
  if (!building) {
    building = true;
    requestAnimationFrame(runNextBuild);
  }
  return () => {
    cancelled = true;
  };
}

function runNextBuild(): void {
  builds.shift()?.();
  if (builds.length > 0) requestAnimationFrame(runNextBuild);
  else building = false;
}

function lastValue(values: ReadonlyArray<number | null>): number | null {
  for (let index = values.length - 1; index >= 0; index--) {
    const value = values[index];
    if (value !== null && value !== undefined) return value;
  }
  return null;
}

/** Axis and legend numbers: 4 significant digits, exponents for learning rates. */
function formatTick(value: number | null): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  if (value !== 0 && Math.abs(value) < 1e-2) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

/** The raw line under a smoothed one: the same color, faded. */
function fade(color: string): string {
  return `${color}55`;
}
