// Metric charts (uPlot). The server downsamples each history to about one point per pixel
// (get-history-bulk-interval); zooming in on steps fetches that range again, so detail appears at
// any depth of a 100,000-step history without the browser ever holding all of it.

import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, type Metric } from './api';
import { ErrorMessage, useWidth } from './components';
import { updateQuery } from './router';

/** `zoom` holds each zoomed metric's x range, in the units of `xAxis`. */
export type ChartSettings = {
  xAxis: 'step' | 'wall' | 'relative';
  logY: boolean;
  smoothing: number;
  zoom: Record<string, [number, number]>;
};

/** The query key of a metric's zoom, whose value is `from,to`. */
const ZOOM_PREFIX = 'zoom:';

function zoomKey(metric: string): string {
  return `${ZOOM_PREFIX}${metric}`;
}

const PALETTE = ['#2f6fdf', '#e0622a', '#2a9d5b', '#b83fb8', '#c9a227', '#1aa3b8', '#d43d5c', '#6b7a8f', '#7a52d1', '#5f8f1f'];

export function runColor(index: number): string {
  const base = PALETTE[index % PALETTE.length];
  if (index < PALETTE.length) return base;
  // Past the palette: spread hues evenly.
  return `hsl(${(index * 137.5) % 360} 65% 48%)`;
}

export function chartSettings(query: URLSearchParams): ChartSettings {
  const x = query.get('x');
  const smoothing = Number(query.get('smooth') ?? 0);
  const zoom: Record<string, [number, number]> = {};
  for (const [key, value] of query.entries()) {
    if (!key.startsWith(ZOOM_PREFIX)) continue;
    const [from, to] = value.split(',').map(Number);
    if (Number.isFinite(from) && Number.isFinite(to) && from < to) zoom[key.slice(ZOOM_PREFIX.length)] = [from, to];
  }
  return {
    xAxis: x === 'wall' || x === 'relative' ? x : 'step',
    logY: query.get('log') === '1',
    smoothing: Number.isFinite(smoothing) ? Math.min(Math.max(smoothing, 0), 0.99) : 0,
    zoom,
  };
}

/** Zooms `metric`'s chart to `range` (or back out), in the URL like every other setting. */
function setZoom(metric: string, range: [number, number] | undefined): void {
  updateQuery({ [zoomKey(metric)]: range ? `${range[0]},${range[1]}` : null });
}

export function ChartControls({ settings }: { settings: ChartSettings }) {
  return (
    <div class="chart-controls" role="group" aria-label="Chart settings">
      <label>
        X axis{' '}
        <select value={settings.xAxis} onChange={(e) => updateQuery({
          x: e.currentTarget.value === 'step' ? null : e.currentTarget.value,
          // A zoom is a range of the old axis's units, so it ends with the axis.
          ...Object.fromEntries(Object.keys(settings.zoom).map((metric) => [zoomKey(metric), null])),
        })}>
          <option value="step">Step</option>
          <option value="wall">Wall time</option>
          <option value="relative">Relative time</option>
        </select>
      </label>
      <label>
        <input type="checkbox" checked={settings.logY} onChange={(e) => updateQuery({ log: e.currentTarget.checked ? '1' : null })} /> Log scale
      </label>
      <label>
        Smoothing{' '}
        <input type="range" min="0" max="0.99" step="0.01" value={settings.smoothing}
          onInput={(e) => updateQuery({ smooth: e.currentTarget.value === '0' ? null : e.currentTarget.value })} />
        <output>{settings.smoothing.toFixed(2)}</output>
      </label>
    </div>
  );
}

/** Exponential moving average with TensorBoard's debiasing, so the curve starts at the data. */
/** A y-axis label: short, and never rounded to 0 (uPlot's own labels show 1e-4 as 0 on log scales). */
function tickLabel(v: number | null): string {
  if (v === null) return '';
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return Number(v.toPrecision(3)).toExponential();
  return String(Number(v.toPrecision(6)));
}

function smooth(values: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return values;
  let last = 0;
  let count = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    count += 1;
    return last / (1 - weight ** count);
  });
}

function numeric(value: number | string): number | null {
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

type Series = { x: number[]; y: (number | null)[] };

function seriesOf(points: Metric[], settings: ChartSettings): Series {
  const sorted = [...points].sort((a, b) => (settings.xAxis === 'step' ? a.step - b.step : a.timestamp - b.timestamp) || a.step - b.step);
  const first = sorted.length ? Number(sorted[0].timestamp) : 0;
  const x = sorted.map((p) =>
    settings.xAxis === 'step' ? Number(p.step) : settings.xAxis === 'wall' ? Number(p.timestamp) / 1000 : (Number(p.timestamp) - first) / 1000);
  let y = sorted.map((p) => numeric(p.value));
  if (settings.logY) y = y.map((v) => (v !== null && v > 0 ? v : null));
  return { x, y: smooth(y, settings.smoothing) };
}

/** Puts the runs' series on one shared, sorted x axis (uPlot draws aligned columns). */
function align(series: Series[]): uPlot.AlignedData {
  const xs = Array.from(new Set(series.flatMap((s) => s.x))).sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const columns = series.map((s) => {
    const column: (number | null)[] = new Array(xs.length).fill(null);
    s.x.forEach((x, i) => { column[index.get(x)!] = s.y[i]; });
    return column;
  });
  return [xs, ...columns] as uPlot.AlignedData;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

const MAX_RUNS_PER_CALL = 100;

async function histories(runIds: string[], metric: string, points: number, range?: [number, number]) {
  const calls = [];
  for (let i = 0; i < runIds.length; i += MAX_RUNS_PER_CALL) {
    calls.push(api.metricHistory(runIds.slice(i, i + MAX_RUNS_PER_CALL), metric, points, range));
  }
  const byRun = new Map<string, Metric[]>(runIds.map((id) => [id, []]));
  for (const metrics of await Promise.all(calls)) {
    for (const m of metrics) byRun.get(m.run_id ?? runIds[0])?.push(m);
  }
  return byRun;
}

export function MetricChart({ runs, metric, settings, height = 260 }: {
  runs: { id: string; name: string }[];
  metric: string;
  settings: ChartSettings;
  height?: number;
}) {
  const [holder, setHolder] = useState<HTMLDivElement | null>(null);
  const width = useWidth(holder);
  const range = settings.zoom[metric];
  // Steps are fetched again for the zoomed range; time axes zoom into what is loaded.
  const fetchedRange = settings.xAxis === 'step' ? range : undefined;
  const [data, setData] = useState<Map<string, Metric[]> | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const runKey = runs.map((r) => r.id).join(',');

  // About one point per pixel, fetched again only when the width changes by a good deal.
  const points = Math.max(200, Math.min(5000, Math.ceil(width / 200) * 200));
  useLayoutEffect(() => {
    if (!width) return;
    let current = true;
    setError(null);
    histories(runs.map((r) => r.id), metric, points, fetchedRange).then(
      (byRun) => current && setData(byRun),
      (e: Error) => current && setError(e),
    );
    return () => { current = false; };
  }, [runKey, metric, points, fetchedRange?.[0], fetchedRange?.[1]]);

  useEffect(() => {
    if (!holder || !data || !width) return;
    const series = runs.map((r) => seriesOf(data.get(r.id) ?? [], settings));
    // Few points are drawn as dots too, so that a metric logged once still shows.
    const sparse = Math.max(0, ...series.map((s) => s.x.length)) <= 50;
    const fg = cssVar('--fg', '#222');
    const grid = cssVar('--border', '#ddd');
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const options: uPlot.Options = {
      width,
      height,
      scales: {
        x: { time: settings.xAxis === 'wall', ...(range && !fetchedRange ? { range: () => range } : {}) },
        y: { distr: settings.logY ? 3 : 1 },
      },
      axes: [
        { ...axis, label: settings.xAxis === 'step' ? 'step' : settings.xAxis === 'wall' ? '' : 'seconds' },
        { ...axis, size: 60, values: (_u: uPlot, splits: number[]) => splits.map(tickLabel) },
      ],
      series: [
        {},
        ...runs.map((r, i) => ({ label: r.name, stroke: runColor(i), width: 1.5, spanGaps: true, points: { show: sparse, size: 6 } })),
      ],
      legend: { show: runs.length <= 12 },
      cursor: { drag: { x: true, y: false } },
      hooks: {
        setSelect: [
          (u: uPlot) => {
            if (u.select.width < 2) return;
            const lo = u.posToVal(u.select.left, 'x');
            const hi = u.posToVal(u.select.left + u.select.width, 'x');
            // Whole steps, or milliseconds: the URL need not carry a pixel's every digit.
            setZoom(metric, settings.xAxis === 'step'
              ? [Math.floor(lo), Math.ceil(hi)]
              : [Math.round(lo * 1000) / 1000, Math.round(hi * 1000) / 1000]);
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
      },
    };
    const chart = new uPlot(options, align(series), holder);
    // The points drawn, set once they are (what tests and the benchmark wait for).
    holder.dataset.points = String(Math.max(0, ...series.map((s) => s.x.length)));
    return () => chart.destroy();
  }, [data, width, settings.xAxis, settings.logY, settings.smoothing, height, range?.[0], range?.[1]]);

  const count = data ? Math.max(0, ...Array.from(data.values(), (m) => m.length)) : 0;
  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{metric}</span>
        <span class="muted">{data ? `${count} points${fetchedRange ? `, steps ${Math.floor(fetchedRange[0])}–${Math.ceil(fetchedRange[1])}` : ''}` : 'loading…'}</span>
        {range && <button type="button" onClick={() => setZoom(metric, undefined)} aria-label={`Reset zoom of ${metric}`}>Reset zoom</button>}
        {settings.xAxis === 'step' && <StepZoom metric={metric} range={range} onZoom={(r) => setZoom(metric, r)} />}
      </figcaption>
      <div ref={setHolder} class="chart-canvas" role="img" aria-label={`Chart of ${metric}`} data-metric={metric} />
      <ErrorMessage error={error} />
    </figure>
  );
}

/** Zooming by typing a step range: the keyboard's way to do what dragging across a chart does. */
function StepZoom({ metric, range, onZoom }: { metric: string; range?: [number, number]; onZoom: (range: [number, number]) => void }) {
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  useEffect(() => {
    setFrom(range ? String(Math.floor(range[0])) : '');
    setTo(range ? String(Math.ceil(range[1])) : '');
  }, [range?.[0], range?.[1]]);
  const valid = from !== '' && to !== '' && Number(from) < Number(to);
  return (
    <details class="step-zoom">
      <summary aria-label={`Zoom ${metric} to steps`}>Steps…</summary>
      <form class="inline" onSubmit={(e) => { e.preventDefault(); if (valid) onZoom([Number(from), Number(to)]); }}>
        <input type="number" aria-label={`First step of ${metric}`} value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        <span>–</span>
        <input type="number" aria-label={`Last step of ${metric}`} value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        <button type="submit" disabled={!valid}>Zoom</button>
      </form>
    </details>
  );
}
