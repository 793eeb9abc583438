// The compare page (`#/compare?runs=<id>,<id>,...`): the chosen runs side by side — their
// parameters and latest metrics in tables, a parallel-coordinates plot, a scatter plot and the
// metric charts. Every choice (only differences, axes, colouring metric, scatter axes, chart
// settings) lives in the hash query, so a copied link shows the same comparison.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Metric, type Run } from '../api';
import { ChartControls, MetricChart, chartSettings, runColor } from '../charts';
import { Loading, useAsync, useWidth } from '../components';
import { formatDuration, formatValue, quote, tagValue } from '../format';
import { drawParallel, hitParallel, makeAxis, metricColor, metricGradient, theme, type ParallelLayout, type ParallelPlot, type Value } from '../parallel';
import { updateQuery } from '../router';
import { drawScatter, hitScatter, type ScatterLayout, type ScatterPlot } from '../scatter';
import './compare.css';
import { experimentLink } from './experiments';
import { runLink } from './runs';

/** How many runs/get calls are in flight at once (a sweep of hundreds of runs must not flood). */
const LOAD_CONCURRENCY = 12;
/** At most this many differing parameters become default axes of the parallel plot. */
const DEFAULT_PARAM_AXES = 12;
const PARALLEL_HEIGHT = 380;
const SCATTER_HEIGHT = 380;

const openRun = (id: string) => { window.location.hash = runLink(id); };

// ---------------------------------------------------------------------------------------------
// Loading

type Loaded = { id: string; run?: Run; error?: Error };

/** The run ids of the query: `runs=a,b,c`, also repeated (`runs=a&runs=b`), without duplicates. */
function runIds(query: URLSearchParams): string[] {
  const ids = query.getAll('runs').flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  return Array.from(new Set(ids));
}

/** Run ids per search call when loading a sweep. */
const SEARCH_BATCH = 100;

/** Experiments searched for the runs of a comparison before the rest are fetched one by one. */
const MAX_EXPERIMENTS_SEARCHED = 20;

/**
 * Loads every run; a run that fails is reported in its slot, never thrown. The runs of a sweep
 * share an experiment, so past a handful the first run is fetched and its experiment searched for
 * all the others, a hundred ids a call; then the same for the first run that search missed (a run
 * of another experiment), and so on. What is left (a few runs, or runs of many experiments) is
 * fetched one by one, a few at a time.
 */
async function loadRuns(ids: string[]): Promise<Loaded[]> {
  const found = new Map<string, Run>();
  let missing = ids;
  for (let searched = 0; missing.length > LOAD_CONCURRENCY && searched < MAX_EXPERIMENTS_SEARCHED; searched++) {
    try {
      const first = await api.getRun(missing[0]);
      found.set(first.info.run_id, first);
      const others = missing.slice(1);
      const batches: string[][] = [];
      for (let i = 0; i < others.length; i += SEARCH_BATCH) batches.push(others.slice(i, i + SEARCH_BATCH));
      await Promise.all(batches.map(async (batch) => {
        const page = await api.searchRuns({
          experiment_ids: [first.info.experiment_id], filter: `attributes.run_id IN (${batch.map(quote).join(', ')})`,
          max_results: batch.length, run_view_type: 'ALL',
        });
        for (const run of page.items) found.set(run.info.run_id, run);
      }));
    } catch {
      // Whatever the searches did not bring is fetched one by one below, and its error shown there.
      break;
    }
    missing = missing.filter((id) => !found.has(id));
  }
  const results = new Map<string, Loaded>();
  const rest = ids.filter((id) => !found.has(id));
  let next = 0;
  const worker = async () => {
    while (next < rest.length) {
      const id = rest[next++];
      try {
        results.set(id, { id, run: await api.getRun(id) });
      } catch (e) {
        results.set(id, { id, error: e instanceof Error ? e : new Error(String(e)) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOAD_CONCURRENCY, rest.length) }, worker));
  return ids.map((id) => results.get(id) ?? { id, run: found.get(id) });
}

// ---------------------------------------------------------------------------------------------
// The comparison's model: the runs, and the union of their parameter and metric keys

type Kind = 'param' | 'metric';
/** A parameter or metric; `id` (`param:<key>` or `metric:<key>`) is how the query names it. */
type Field = { kind: Kind; key: string; id: string; label: string };

type Entry = {
  index: number;
  id: string;
  name: string;
  color: string;
  run: Run;
  params: Map<string, string>;
  metrics: Map<string, number | string>;
};

type Model = {
  entries: Entry[];
  params: Field[];
  metrics: Field[];
  byId: Map<string, Field>;
  /** The ids of the fields whose values are not the same in every run. */
  differs: Set<string>;
};

function runName(run: Run): string {
  return run.info.run_name || tagValue(run.data.tags, 'mlflow.runName') || run.info.run_id;
}

/** Each metric's latest value (highest step, then latest timestamp). */
function latestMetrics(run: Run): Map<string, number | string> {
  const latest = new Map<string, Metric>();
  for (const m of run.data.metrics ?? []) {
    const seen = latest.get(m.key);
    const newer = !seen || Number(m.step) > Number(seen.step)
      || (Number(m.step) === Number(seen.step) && Number(m.timestamp) >= Number(seen.timestamp));
    if (newer) latest.set(m.key, m);
  }
  return new Map(Array.from(latest, ([key, m]) => [key, m.value]));
}

const runCount = (n: number) => `${n} ${n === 1 ? 'run' : 'runs'}`;
const byName = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });

function valueOf(entry: Entry, field: Field): Value {
  return field.kind === 'param' ? entry.params.get(field.key) : entry.metrics.get(field.key);
}

function buildModel(runs: Run[]): Model {
  const entries: Entry[] = runs.map((run, index) => ({
    index,
    id: run.info.run_id,
    name: runName(run),
    color: runColor(index),
    run,
    params: new Map((run.data.params ?? []).map((p) => [p.key, p.value])),
    metrics: latestMetrics(run),
  }));
  const paramKeys = Array.from(new Set(entries.flatMap((e) => Array.from(e.params.keys())))).sort(byName);
  const metricKeys = Array.from(new Set(entries.flatMap((e) => Array.from(e.metrics.keys())))).sort(byName);
  const shared = new Set(paramKeys.filter((k) => metricKeys.includes(k)));
  const field = (kind: Kind, key: string): Field =>
    ({ kind, key, id: `${kind}:${key}`, label: shared.has(key) ? `${key} (${kind})` : key });
  const params = paramKeys.map((k) => field('param', k));
  const metrics = metricKeys.map((k) => field('metric', k));
  const all = [...params, ...metrics];
  const differs = new Set<string>();
  if (entries.length > 1) {
    for (const f of all) {
      const values = new Set(entries.map((e) => {
        const v = valueOf(e, f);
        return v === undefined ? '\u0000missing' : String(v);
      }));
      if (values.size > 1) differs.add(f.id);
    }
  }
  return { entries, params, metrics, byId: new Map(all.map((f) => [f.id, f])), differs };
}

function asNumber(value: Value): number | null {
  if (value === undefined) return null;
  if (typeof value === 'string' && value.trim() === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

// ---------------------------------------------------------------------------------------------
// Small shared pieces

/** Changes when the colour scheme does, so canvases redraw with the new theme. */
function useSchemeVersion(): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const media = typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: dark)') : null;
    if (!media) return;
    const bump = () => setVersion((v) => v + 1);
    media.addEventListener('change', bump);
    return () => media.removeEventListener('change', bump);
  }, []);
  return version;
}

function Swatch({ color }: { color: string }) {
  return <span class="compare-swatch" style={{ background: color }} aria-hidden="true" />;
}

function Missing() {
  return <span class="muted" title="No value">—</span>;
}

type Tip = { index: number; x: number; y: number };

/** A tooltip beside the pointer, flipped to the left near the plot's right edge. */
function PlotTooltip({ tip, width, entry, lines }: { tip: Tip; width: number; entry: Entry; lines: [string, Value][] }) {
  const flip = tip.x > width - 260;
  const style = flip ? { right: `${width - tip.x + 14}px`, top: `${tip.y + 12}px` } : { left: `${tip.x + 14}px`, top: `${tip.y + 12}px` };
  return (
    <div class="plot-tooltip" role="tooltip" style={style}>
      <div class="plot-tooltip-name"><Swatch color={entry.color} />{entry.name}</div>
      <dl>
        {lines.map(([label, value], i) => (
          <div key={i}><dt>{label}</dt><dd>{value === undefined ? '—' : formatValue(value)}</dd></div>
        ))}
      </dl>
    </div>
  );
}

function pointer(event: MouseEvent): [number, number] {
  const rect = (event.currentTarget as HTMLElement).getBoundingClientRect();
  return [event.clientX - rect.left, event.clientY - rect.top];
}

/**
 * The pointer over a plot: the run under it (by `hit`, on canvas coordinates) is highlighted and
 * tipped while hovering, and opened on a click.
 */
function usePlotPointer(hit: (x: number, y: number) => number | null, entries: Entry[],
  highlight: number | null, setHighlight: (index: number | null) => void) {
  const [tip, setTip] = useState<Tip | null>(null);
  const hover = (event: MouseEvent) => {
    const [x, y] = pointer(event);
    const found = hit(x, y);
    setTip(found === null ? null : { index: found, x, y });
    if (found !== highlight) setHighlight(found);
  };
  const leave = () => { setTip(null); setHighlight(null); };
  const click = (event: MouseEvent) => {
    const [x, y] = pointer(event);
    const found = hit(x, y);
    if (found !== null && entries[found]) openRun(entries[found].id);
  };
  return { tip, tipEntry: tip ? entries[tip.index] : undefined, hover, leave, click };
}

// ---------------------------------------------------------------------------------------------
// The page

export function ComparePage({ query }: { query: URLSearchParams }) {
  const ids = runIds(query);
  const key = ids.join(',');
  const state = useAsync(() => loadRuns(ids), [key]);
  if (ids.length === 0) {
    return (
      <section class="compare">
        <h1>Compare runs</h1>
        <p>There are no runs to compare. Select runs in an experiment's run list and choose Compare.</p>
        <p><a href="#/experiments">Back to the experiments</a></p>
      </section>
    );
  }
  return (
    <Loading state={state} what={ids.length === 1 ? 'the run' : runCount(ids.length)}>
      {(loaded) => <Comparison loaded={loaded} query={query} />}
    </Loading>
  );
}

function LoadErrors({ failed }: { failed: Loaded[] }) {
  if (failed.length === 0) return null;
  return (
    <div class="compare-errors" role="alert">
      {failed.map(({ id, error }) => (
        <p key={id} class="error">
          {error instanceof ApiError && error.code === 'RESOURCE_DOES_NOT_EXIST'
            ? <>Run <code>{id}</code> was not found.</>
            : <>Run <code>{id}</code> could not be loaded: {error?.message}</>}
        </p>
      ))}
    </div>
  );
}

function Comparison({ loaded, query }: { loaded: Loaded[]; query: URLSearchParams }) {
  const model = useMemo(() => buildModel(loaded.flatMap((l) => (l.run ? [l.run] : []))), [loaded]);
  const failed = loaded.filter((l) => !l.run);
  const [highlight, setHighlight] = useState<number | null>(null);
  const onlyDiff = query.get('diff') === '1';

  const experimentIds = Array.from(new Set(model.entries.map((e) => e.run.info.experiment_id)));
  const experimentKey = experimentIds.join(',');
  const experiments = useAsync(async () => {
    const found = await Promise.all(experimentIds.map((id) => api.getExperiment(id).catch(() => null)));
    return new Map(found.flatMap((e) => (e ? [[e.experiment_id, e.name] as [string, string]] : [])));
  }, [experimentKey]);
  const names = experiments.data ?? new Map<string, string>();

  const count = model.entries.length;
  const tables = useMemo(() => (
    <>
      <section class="compare-section" aria-labelledby="compare-parameters">
        <h2 id="compare-parameters">Parameters</h2>
        <ValuesTable label="Parameters" heading="Parameter" fields={model.params} model={model} onlyDiff={onlyDiff}
          show={(v) => String(v)} empty="These runs have no parameters." />
      </section>
      <section class="compare-section" aria-labelledby="compare-metrics">
        <h2 id="compare-metrics">Metrics</h2>
        <p class="muted compare-note">Latest value of each metric.</p>
        <ValuesTable label="Metrics" heading="Metric" fields={model.metrics} model={model} onlyDiff={onlyDiff}
          show={(v) => formatValue(v)} empty="These runs have no metrics." />
      </section>
    </>
  ), [model, onlyDiff]);
  const charts = useMemo(() => <ChartsSection model={model} query={query} />, [model, query.toString()]);

  if (count === 0) {
    return (
      <section class="compare">
        <h1>Compare runs</h1>
        <LoadErrors failed={failed} />
        <p>None of the runs could be shown.</p>
        <p><a href="#/experiments">Back to the experiments</a></p>
      </section>
    );
  }

  const single = experimentIds.length === 1 ? experimentIds[0] : null;
  const differing = model.differs.size;
  return (
    <section class="compare">
      <p class="crumbs compare-crumbs">
        <a href="#/experiments">Experiments</a>
        {single && <> / <a href={experimentLink(single)}>{names.get(single) ?? `Experiment ${single}`}</a></>} /
      </p>
      <h1>Compare {runCount(count)}</h1>
      <LoadErrors failed={failed} />

      <ul class="compare-runs" aria-label="Compared runs">
        {model.entries.map((e) => {
          const info = e.run.info;
          return (
            <li key={e.id} class={highlight === e.index ? 'highlighted' : undefined}
              onMouseEnter={() => setHighlight(e.index)} onMouseLeave={() => setHighlight(null)}>
              <Swatch color={e.color} />
              <a class="compare-run-name" href={runLink(e.id)}>{e.name}</a>{' '}
              <span class={`badge ${info.status}`}>{info.status}</span>{' '}
              <a class="compare-run-experiment" href={experimentLink(info.experiment_id)}>
                {names.get(info.experiment_id) ?? `Experiment ${info.experiment_id}`}
              </a>
              {info.start_time ? <span class="muted"> · {formatDuration(info.start_time, info.end_time)}</span> : null}
            </li>
          );
        })}
      </ul>

      <div class="toolbar compare-toolbar">
        <label>
          <input type="checkbox" checked={onlyDiff} onChange={(ev) => updateQuery({ diff: ev.currentTarget.checked ? '1' : null })} />
          {' '}Only differences
        </label>
        <span class="muted">
          {count > 1 ? `${differing} of ${model.params.length + model.metrics.length} values differ` : 'One run: nothing to tell apart'}
        </span>
      </div>

      {tables}

      <ParallelSection model={model} query={query} highlight={highlight} setHighlight={setHighlight} />
      <ScatterSection model={model} query={query} highlight={highlight} setHighlight={setHighlight} />
      {charts}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// The parameter and metric tables

function ValuesTable({ label, heading, fields, model, onlyDiff, show, empty }: {
  label: string;
  heading: string;
  fields: Field[];
  model: Model;
  onlyDiff: boolean;
  show: (value: number | string) => string;
  empty: string;
}) {
  const rows = onlyDiff ? fields.filter((f) => model.differs.has(f.id)) : fields;
  const columns = model.entries.length + 1;
  return (
    <div class="compare-scroll">
      <table class="list compare-table" aria-label={label}>
        <thead>
          <tr>
            <th scope="col">{heading}</th>
            {model.entries.map((e) => (
              <th key={e.id} scope="col" class="compare-run-column">
                <Swatch color={e.color} /><a href={runLink(e.id)} title={e.name}>{e.name}</a>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {fields.length === 0 && <tr><td colSpan={columns} class="muted">{empty}</td></tr>}
          {fields.length > 0 && rows.length === 0 && (
            <tr><td colSpan={columns} class="muted">
              {fields.length === 1 ? `The one ${heading.toLowerCase()} is` : `All ${fields.length} ${label.toLowerCase()} are`} the same in every run.
            </td></tr>
          )}
          {rows.map((f) => {
            const differs = model.differs.has(f.id);
            return (
              <tr key={f.id} class={differs ? 'differs' : undefined}>
                <th scope="row" title={differs ? 'Differs between the runs' : undefined}>{f.key}</th>
                {model.entries.map((e) => {
                  const value = valueOf(e, f);
                  return (
                    <td key={e.id} class={typeof value === 'number' ? 'num' : undefined}>
                      {value === undefined ? <Missing /> : <span class="value" title={String(value)}>{show(value)}</span>}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// The parallel-coordinates plot

function defaultAxes(model: Model): Field[] {
  let params = model.params.filter((f) => model.differs.has(f.id));
  if (params.length === 0) params = model.params;
  return [...params.slice(0, DEFAULT_PARAM_AXES), ...model.metrics.slice(0, 1)];
}

/** The axes the query names (`axes=param:a,metric:b`, `none` for none), params first; else the default. */
function chosenAxes(text: string | null, model: Model): Field[] {
  if (text === null) return defaultAxes(model);
  if (text.trim() === 'none') return [];
  const wanted = new Set(text.split(',').map((s) => s.trim()));
  const chosen = [...model.params, ...model.metrics].filter((f) => wanted.has(f.id));
  return chosen.length > 0 ? chosen : defaultAxes(model);
}

type Range = { min: number; max: number };

function numericRange(values: Value[]): Range | null {
  const numbers = values.map(asNumber).filter((n): n is number => n !== null);
  if (numbers.length === 0) return null;
  return { min: Math.min(...numbers), max: Math.max(...numbers) };
}

function ParallelSection({ model, query, highlight, setHighlight }: {
  model: Model;
  query: URLSearchParams;
  highlight: number | null;
  setHighlight: (index: number | null) => void;
}) {
  const [holder, setHolder] = useState<HTMLDivElement | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const layout = useRef<ParallelLayout>({ points: [] });
  const width = useWidth(holder);
  const scheme = useSchemeVersion();

  const axes = chosenAxes(query.get('axes'), model);
  const axesKey = axes.map((f) => f.id).join(',');
  const colorParam = query.get('color');
  const colorField = model.metrics.find((f) => f.key === colorParam)
    ?? [...axes].reverse().find((f) => f.kind === 'metric')
    ?? model.metrics[0];
  const range = useMemo(() => (colorField ? numericRange(model.entries.map((e) => valueOf(e, colorField))) : null), [model, colorField?.id]);

  const plot = useMemo<ParallelPlot>(() => {
    const none = theme().muted;
    return {
      axes: axes.map((f) => makeAxis(f.label, model.entries.map((e) => valueOf(e, f)))),
      rows: model.entries.map((e) => axes.map((f) => valueOf(e, f))),
      colors: model.entries.map((e) => {
        if (!colorField) return e.color;
        const n = asNumber(valueOf(e, colorField));
        if (n === null || !range) return none;
        return metricColor(range.max > range.min ? (n - range.min) / (range.max - range.min) : 0.5);
      }),
    };
  }, [model, axesKey, colorField?.id, range, scheme]);

  useEffect(() => {
    const element = canvas.current;
    if (!element || width <= 0) return;
    layout.current = drawParallel(element, width, PARALLEL_HEIGHT, plot, highlight);
    // Set once drawn, not when rendered: what a test or a benchmark waits for.
    element.dataset.lines = String(model.entries.length);
  }, [plot, width, highlight]);

  const setAxes = (ids: Set<string>) => {
    const ordered = [...model.params, ...model.metrics].filter((f) => ids.has(f.id)).map((f) => f.id);
    updateQuery({ axes: ordered.length ? ordered.join(',') : 'none' });
  };
  const toggle = (field: Field, on: boolean) => {
    const ids = new Set(axes.map((f) => f.id));
    if (on) ids.add(field.id);
    else ids.delete(field.id);
    setAxes(ids);
  };

  const { tip, tipEntry, hover, leave, click } =
    usePlotPointer((x, y) => hitParallel(layout.current, x, y), model.entries, highlight, setHighlight);

  const labels = axes.map((f) => f.label);
  const nothing = model.params.length === 0 && model.metrics.length === 0;
  const hasUncoloured = !!colorField && model.entries.some((e) => asNumber(valueOf(e, colorField)) === null);
  const picker = (title: string, fields: Field[]) => fields.length > 0 && (
    <fieldset>
      <legend>{title}</legend>
      {fields.map((f) => (
        <label key={f.id} class={model.differs.has(f.id) ? 'differs' : undefined}>
          <input type="checkbox" checked={axes.some((a) => a.id === f.id)} onChange={(e) => toggle(f, e.currentTarget.checked)} />
          {' '}{f.key}
        </label>
      ))}
    </fieldset>
  );

  return (
    <section class="compare-section" aria-labelledby="compare-parallel">
      <h2 id="compare-parallel">Parallel coordinates</h2>
      {nothing ? <p class="muted">These runs have no parameters or metrics to plot.</p> : (
        <>
          <div class="axis-picker" role="group" aria-label="Parallel coordinates axes">
            {picker('Parameter axes', model.params)}
            {picker('Metric axes', model.metrics)}
            <div class="inline">
              {model.metrics.length > 0 && colorField && (
                <label>
                  Colour by{' '}
                  <select aria-label="Colour lines by metric" value={colorField.key}
                    onChange={(e) => updateQuery({ color: e.currentTarget.value })}>
                    {model.metrics.map((f) => <option key={f.id} value={f.key}>{f.key}</option>)}
                  </select>
                </label>
              )}
              <button type="button" onClick={() => updateQuery({ axes: null, color: null })}>Default axes</button>
            </div>
          </div>
          {colorField && (
            <div class="gradient-legend" role="group" aria-label={`Line colour: ${colorField.key}${range ? `, from ${formatValue(range.min)} (blue) to ${formatValue(range.max)} (red)` : ''}`}>
              <span class="gradient-title">{colorField.key}</span>
              {range && range.min === range.max ? <span class="muted">{formatValue(range.min)} in every run</span> : range ? (
                <>
                  <span class="muted">{formatValue(range.min)}</span>
                  <span class="gradient-bar" style={{ background: metricGradient() }} aria-hidden="true" />
                  <span class="muted">{formatValue(range.max)}</span>
                </>
              ) : <span class="muted">has no numeric values</span>}
              {hasUncoloured && <span class="muted"><Swatch color="var(--muted)" />no value</span>}
            </div>
          )}
        </>
      )}
      {!nothing && <div ref={setHolder} class="plot-holder">
        {axes.length === 0 && <p class="muted">Choose at least one axis.</p>}
        {axes.length > 0 && (
          <canvas ref={canvas} class={`plot-canvas${tip ? ' pointing' : ''}`} role="img"
            aria-label={`Parallel coordinates plot of ${runCount(model.entries.length)} over ${labels.join(', ')}`}
            data-axes={labels.join(',')}
            onMouseMove={hover} onMouseLeave={leave} onClick={click} />
        )}
        {tip && tipEntry && axes.length > 0 && (
          <PlotTooltip tip={tip} width={width} entry={tipEntry}
            lines={axes.map((f) => [f.label, valueOf(tipEntry, f)] as [string, Value])} />
        )}
      </div>}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// The scatter plot

function ScatterSection({ model, query, highlight, setHighlight }: {
  model: Model;
  query: URLSearchParams;
  highlight: number | null;
  setHighlight: (index: number | null) => void;
}) {
  const [holder, setHolder] = useState<HTMLDivElement | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const layout = useRef<ScatterLayout>({ points: [] });
  const width = useWidth(holder);
  const scheme = useSchemeVersion();

  const all = [...model.params, ...model.metrics];
  const defaultX = model.params.find((f) => model.differs.has(f.id)) ?? model.params[0] ?? model.metrics[0];
  const defaultY = model.metrics.find((f) => f !== defaultX) ?? all.find((f) => f !== defaultX) ?? defaultX;
  const sx = model.byId.get(query.get('sx') ?? '') ?? defaultX;
  const sy = model.byId.get(query.get('sy') ?? '') ?? defaultY;

  const plot = useMemo<ScatterPlot | null>(() => {
    if (!sx || !sy) return null;
    return {
      x: makeAxis(sx.label, model.entries.map((e) => valueOf(e, sx))),
      y: makeAxis(sy.label, model.entries.map((e) => valueOf(e, sy))),
      points: model.entries.map((e) => ({ x: valueOf(e, sx), y: valueOf(e, sy), color: e.color })),
    };
  }, [model, sx?.id, sy?.id, scheme]);

  useEffect(() => {
    const element = canvas.current;
    if (!element || !plot || width <= 0) return;
    layout.current = drawScatter(element, width, SCATTER_HEIGHT, plot, highlight);
  }, [plot, width, highlight]);

  const { tip, tipEntry, hover, leave, click } =
    usePlotPointer((x, y) => hitScatter(layout.current, x, y), model.entries, highlight, setHighlight);

  const select = (name: 'sx' | 'sy', value: Field, label: string) => (
    <select aria-label={label} value={value.id} onChange={(e) => updateQuery({ [name]: e.currentTarget.value })}>
      {model.params.length > 0 && (
        <optgroup label="Parameters">{model.params.map((f) => <option key={f.id} value={f.id}>{f.key}</option>)}</optgroup>
      )}
      {model.metrics.length > 0 && (
        <optgroup label="Metrics">{model.metrics.map((f) => <option key={f.id} value={f.id}>{f.key}</option>)}</optgroup>
      )}
    </select>
  );

  // A value on a numeric axis is always a number (else the axis is categorical), so every run with
  // both values is drawn.
  const plotted = sx && sy ? model.entries.filter((e) => valueOf(e, sx) !== undefined && valueOf(e, sy) !== undefined).length : 0;
  return (
    <section class="compare-section" aria-labelledby="compare-scatter">
      <h2 id="compare-scatter">Scatter plot</h2>
      {!sx || !sy ? <p class="muted">These runs have no parameters or metrics to plot.</p> : (
        <div class="toolbar" role="group" aria-label="Scatter plot axes">
          <label>X axis {select('sx', sx, 'Scatter plot x axis')}</label>
          <label>Y axis {select('sy', sy, 'Scatter plot y axis')}</label>
          <button type="button" onClick={() => updateQuery({ sx: sy.id, sy: sx.id })}>Swap axes</button>
        </div>
      )}
      {sx && sy && <div ref={setHolder} class="plot-holder">
        <canvas ref={canvas} class={`plot-canvas${tip ? ' pointing' : ''}`} role="img"
          aria-label={`Scatter plot of ${sy.label} against ${sx.label} for ${runCount(model.entries.length)}`}
          data-x={sx.id} data-y={sy.id} data-points={plotted}
          onMouseMove={hover} onMouseLeave={leave} onClick={click} />
        {tip && tipEntry && (
          <PlotTooltip tip={tip} width={width} entry={tipEntry}
            lines={[[sx.label, valueOf(tipEntry, sx)], [sy.label, valueOf(tipEntry, sy)]]} />
        )}
      </div>}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// The metric charts

function ChartsSection({ model, query }: { model: Model; query: URLSearchParams }) {
  const settings = chartSettings(query);
  const runs = model.entries.map((e) => ({ id: e.id, name: e.name }));
  return (
    <section class="compare-section" aria-labelledby="compare-charts">
      <h2 id="compare-charts">Metric charts</h2>
      {model.metrics.length === 0 ? <p class="muted">These runs logged no metrics.</p> : (
        <>
          <ChartControls settings={settings} />
          <div class="charts">
            {model.metrics.map((f) => <MetricChart key={f.key} runs={runs} metric={f.key} settings={settings} />)}
          </div>
        </>
      )}
    </section>
  );
}
