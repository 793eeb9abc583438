// The runs of an experiment: a table whose columns the user picks, sorted and filtered by the
// server, with nested runs grouped under their parent. Rows have a fixed height, so only the rows
// in view are rendered and the next page of runs is fetched as the user scrolls near the end:
// 10,000 runs scroll as smoothly as 10.

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Experiment, type Run } from '../api';
import { ErrorMessage, Loading, TagEditor, useAction, useAsync } from '../components';
import { formatDuration, formatTime, formatValue, tagValue } from '../format';
import { href, updateQuery } from '../router';
import { useCanEdit } from '../session';
import './pages.css';

const ROW_HEIGHT = 32;
const OVERSCAN = 12;
/** The first page fills the screen a few times over, and comes quickly; the later pages are larger. */
const FIRST_PAGE_SIZE = 200;
const PAGE_SIZE = 1000;
/** Fetch the next page once the view is this many rows from the end of what is loaded. */
const PREFETCH_ROWS = 300;
const DEFAULT_PER_KIND = 10;

export const runLink = (id: string) => href(`/runs/${encodeURIComponent(id)}`);

type Kind = 'attr' | 'metric' | 'param' | 'tag';
type Column = { id: string; kind: Kind; key: string };

const ATTRIBUTES: { key: string; label: string; orderBy?: string }[] = [
  { key: 'status', label: 'Status', orderBy: 'attributes.status' },
  { key: 'start_time', label: 'Created', orderBy: 'attributes.start_time' },
  { key: 'duration', label: 'Duration' },
  { key: 'user_id', label: 'User', orderBy: 'attributes.user_id' },
  { key: 'source', label: 'Source' },
];
const DEFAULT_ATTRIBUTES = ['status', 'start_time', 'duration', 'user_id'];

const columnId = (kind: Kind, key: string) => `${kind}:${key}`;
function parseColumn(id: string): Column | null {
  const colon = id.indexOf(':');
  const kind = id.slice(0, colon) as Kind;
  if (colon < 0 || !['attr', 'metric', 'param', 'tag'].includes(kind)) return null;
  return { id, kind, key: id.slice(colon + 1) };
}

/** The server's `order_by` for a column, or undefined where MLflow cannot sort by it. */
function orderByOf(id: string): string | undefined {
  const column = parseColumn(id);
  if (!column) return undefined;
  const quoted = `\`${column.key.replace(/`/g, '')}\``;
  switch (column.kind) {
    case 'attr': return id === 'attr:run_name' ? 'attributes.run_name' : ATTRIBUTES.find((a) => a.key === column.key)?.orderBy;
    case 'metric': return `metrics.${quoted}`;
    case 'param': return `params.${quoted}`;
    case 'tag': return `tags.${quoted}`;
  }
}

/** Text without a comparison is a search of run names, as in MLflow's UI. */
export function toFilter(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return '';
  if (/[=<>!]|\b(like|ilike|in|is)\b/i.test(trimmed)) return trimmed;
  return `attributes.run_name ILIKE '%${trimmed.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}%'`;
}

const PARENT_TAG = 'mlflow.parentRunId';

type Loaded = { key: string; runs: Run[]; next?: string; error?: Error; loading: boolean };
type Row = { run: Run; depth: number; children: number };

export function RunsPage({ experimentId, query }: { experimentId: string; query: URLSearchParams }) {
  const experiment = useAsync(() => api.getExperiment(experimentId), [experimentId]);
  // Asked for at the same time as the experiment, not after it.
  const pages = useRunPages(experimentId, query);
  return (
    <Loading state={experiment} what="the experiment">
      {(exp) => <Runs experiment={exp} query={query} pages={pages} reloadExperiment={experiment.reload} />}
    </Loading>
  );
}

/** The view's query as the server's search: what decides which runs come, in which order. */
function runSearch(experimentId: string, query: URLSearchParams) {
  const sort = query.get('sort') ?? 'attr:start_time';
  const ascending = query.get('dir') === 'asc';
  const filter = toFilter(query.get('filter') ?? '');
  const orderBy = orderByOf(sort);
  const deleted = query.get('deleted') === '1';
  return {
    experiment_ids: [experimentId],
    filter: filter || undefined,
    order_by: orderBy ? [`${orderBy} ${ascending ? 'ASC' : 'DESC'}`] : undefined,
    run_view_type: deleted ? 'DELETED_ONLY' : 'ACTIVE_ONLY',
  };
}

type RunPages = { key: string; loaded: Loaded; reload: () => void; more: () => void };

/** The runs of the search, a page at a time: `more` fetches the next one, `reload` starts over. */
function useRunPages(experimentId: string, query: URLSearchParams): RunPages {
  const search = runSearch(experimentId, query);
  const key = JSON.stringify(search);
  const [loaded, setLoaded] = useState<Loaded>({ key, runs: [], loading: true });
  const generation = useRef(0);
  // Also set before `loaded` re-renders, so that two calls of `more` in one frame fetch one page.
  const fetching = useRef(false);
  const fetchPage = (runs: Run[], token?: string) => {
    const mine = ++generation.current;
    fetching.current = true;
    setLoaded({ key, runs, next: token, loading: true });
    const settle = (next: Loaded) => {
      if (mine !== generation.current) return;
      fetching.current = false;
      setLoaded(next);
    };
    api.searchRuns({ ...search, max_results: token ? PAGE_SIZE : FIRST_PAGE_SIZE, page_token: token }).then(
      (page) => settle({ key, runs: [...runs, ...page.items], next: page.next, loading: false }),
      (error: Error) => settle({ key, runs, next: token, error, loading: false }),
    );
  };
  const reload = () => fetchPage([]);
  useLayoutEffect(reload, [key]);
  const more = () => {
    if (loaded.key === key && !fetching.current && loaded.next && !loaded.error) fetchPage(loaded.runs, loaded.next);
  };
  return { key, loaded, reload, more };
}

function Runs({ experiment, query, pages, reloadExperiment }: {
  experiment: Experiment;
  query: URLSearchParams;
  pages: RunPages;
  reloadExperiment: () => void;
}) {
  const id = experiment.experiment_id;
  const filterText = query.get('filter') ?? '';
  const sort = query.get('sort') ?? 'attr:start_time';
  const ascending = query.get('dir') === 'asc';
  const grouped = query.get('flat') !== '1';
  const deleted = query.get('deleted') === '1';
  const filter = toFilter(filterText);
  const { key, loaded, reload } = pages;

  // The selection is part of the link, like the rest of the view.
  const selection = query.get('sel') ?? '';
  const selected = useMemo(() => new Set(selection.split(',').filter(Boolean)), [selection]);
  const setSelected = (ids: Set<string>) => updateQuery({ sel: Array.from(ids).join(',') || null });
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  useEffect(() => setExpanded(new Set()), [id, deleted]);

  const runs = loaded.key === key ? loaded.runs : [];
  const keys = useMemo(() => keysOf(runs), [runs]);
  const columns = chosenColumns(query.get('cols'), keys);
  const rows = useMemo(() => (grouped ? groupRows(runs, expanded) : runs.map((run) => ({ run, depth: 0, children: 0 }))), [runs, expanded, grouped]);

  const editable = useCanEdit('experiment', id) && experiment.lifecycle_stage === 'active';
  const filterError = loaded.error instanceof ApiError && loaded.error.status === 400 ? loaded.error : null;
  return (
    <section>
      <p class="crumbs"><a href="#/experiments">Experiments</a> /</p>
      <div class="title-row">
        <h1>{experiment.name}</h1>
        <span class="muted">ID {id}</span>
        {experiment.lifecycle_stage !== 'active' && <span class="badge">deleted</span>}
      </div>
      <ExperimentDetails experiment={experiment} editable={editable} onChange={reloadExperiment} />
      <FilterBox text={filterText} />
      {filterError && <p class="error filter-error" role="alert" aria-label="Filter error">{filterError.message}</p>}
      <div class="toolbar">
        <ColumnPicker columns={columns} keys={keys} />
        <label><input type="checkbox" checked={grouped} onChange={(e) => updateQuery({ flat: e.currentTarget.checked ? null : '1' })} /> Group child runs</label>
        <label><input type="checkbox" checked={deleted} onChange={(e) => updateQuery({ deleted: e.currentTarget.checked ? '1' : null, sel: null })} /> Show deleted runs</label>
        {grouped && rows.some((r) => r.children > 0) && (
          <>
            <button type="button" onClick={() => setExpanded(new Set(runs.map((r) => r.info.run_id)))}>Expand all</button>
            <button type="button" onClick={() => setExpanded(new Set())}>Collapse all</button>
          </>
        )}
        <span class="grow" />
        <SelectionActions selected={selected} deleted={deleted} editable={editable} onDone={() => { setSelected(new Set()); reload(); }} />
      </div>
      <p class="muted" role="status" aria-live="polite">
        {loaded.loading && runs.length === 0 ? 'Loading runs…'
          : `${runs.length}${loaded.next ? '+' : ''} run${runs.length === 1 ? '' : 's'}${loaded.loading ? ', loading more…' : ''}${selected.size ? `, ${selected.size} selected` : ''}`}
      </p>
      {loaded.error && !filterError && <ErrorMessage error={loaded.error} />}
      {!filterError && (
        <RunsGrid rows={rows} columns={columns} sort={sort} ascending={ascending} selected={selected} setSelected={setSelected}
          expanded={expanded} setExpanded={setExpanded} empty={!loaded.loading && runs.length === 0}
          filtered={!!filter} onNearEnd={pages.more} />
      )}
    </section>
  );
}

function ExperimentDetails({ experiment, editable, onChange }: { experiment: Experiment; editable: boolean; onChange: () => void }) {
  const id = experiment.experiment_id;
  const tags = experiment.tags ?? [];
  const note = tagValue(tags, 'mlflow.note.content');
  const userTags = tags.filter((t) => !t.key.startsWith('mlflow.')).length;
  return (
    <details class="experiment-details">
      <summary>Details and tags{userTags ? ` (${userTags} tag${userTags === 1 ? '' : 's'})` : ''}</summary>
      <dl class="facts">
        <dt>Artifact location</dt><dd>{experiment.artifact_location}</dd>
        <dt>Created</dt><dd>{formatTime(experiment.creation_time)}</dd>
        <dt>Last updated</dt><dd>{formatTime(experiment.last_update_time)}</dd>
        {note && <><dt>Description</dt><dd class="value">{note}</dd></>}
      </dl>
      <TagEditor label="Experiment tags" tags={tags.filter((t) => t.key !== 'mlflow.note.content')} editable={editable}
        onSet={async (k, v) => { await api.setExperimentTag(id, k, v); onChange(); }}
        onDelete={async (k) => { await api.deleteExperimentTag(id, k); onChange(); }} />
    </details>
  );
}

function FilterBox({ text }: { text: string }) {
  const [draft, setDraft] = useState(text);
  useEffect(() => setDraft(text), [text]);
  return (
    <form class="toolbar" role="search" onSubmit={(e) => { e.preventDefault(); updateQuery({ filter: draft.trim() || null }); }}>
      <input type="search" class="grow" aria-label="Filter runs" value={draft} onInput={(e) => setDraft(e.currentTarget.value)}
        placeholder="metrics.rmse < 1 and params.model = 'rf' — or part of a run name" />
      <button type="submit">Search</button>
      {text && <button type="button" onClick={() => updateQuery({ filter: null })}>Clear</button>}
    </form>
  );
}

type Keys = { metric: string[]; param: string[]; tag: string[] };

function keysOf(runs: Run[]): Keys {
  const metric = new Set<string>();
  const param = new Set<string>();
  const tag = new Set<string>();
  for (const run of runs) {
    run.data.metrics?.forEach((m) => metric.add(m.key));
    run.data.params?.forEach((p) => param.add(p.key));
    run.data.tags?.forEach((t) => { if (!t.key.startsWith('mlflow.')) tag.add(t.key); });
  }
  const sorted = (s: Set<string>) => Array.from(s).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  return { metric: sorted(metric), param: sorted(param), tag: sorted(tag) };
}

/** The columns in the URL; without a choice, the usual attributes and the first metrics and params. */
function chosenColumns(text: string | null, keys: Keys): Column[] {
  if (text !== null) {
    return text.split(',').filter(Boolean).map((part) => parseColumn(decodeURIComponent(part))).filter((c): c is Column => c !== null);
  }
  return [
    ...DEFAULT_ATTRIBUTES.map((k) => ({ id: columnId('attr', k), kind: 'attr' as Kind, key: k })),
    ...keys.metric.slice(0, DEFAULT_PER_KIND).map((k) => ({ id: columnId('metric', k), kind: 'metric' as Kind, key: k })),
    ...keys.param.slice(0, DEFAULT_PER_KIND).map((k) => ({ id: columnId('param', k), kind: 'param' as Kind, key: k })),
  ];
}

function ColumnPicker({ columns, keys }: { columns: Column[]; keys: Keys }) {
  const [open, setOpen] = useState(false);
  const chosen = new Set(columns.map((c) => c.id));
  const save = (ids: string[]) => updateQuery({ cols: ids.map(encodeURIComponent).join(',') || ',' });
  const toggle = (id: string, on: boolean) => save(on ? [...columns.map((c) => c.id), id] : columns.map((c) => c.id).filter((c) => c !== id));
  const group = (legend: string, kind: Kind, items: { key: string; label: string }[]) => items.length > 0 && (
    <fieldset>
      <legend>{legend}</legend>
      {items.map((item) => {
        const cid = columnId(kind, item.key);
        return (
          <label key={cid}>
            <input type="checkbox" checked={chosen.has(cid)} onChange={(e) => toggle(cid, e.currentTarget.checked)} /> {item.label}
          </label>
        );
      })}
    </fieldset>
  );
  const plain = (list: string[]) => list.map((k) => ({ key: k, label: k }));
  return (
    <>
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>Columns ({columns.length})</button>
      {open && (
        <div class="column-picker" role="group" aria-label="Columns">
          {group('Attributes', 'attr', ATTRIBUTES)}
          {group('Metrics', 'metric', plain(keys.metric))}
          {group('Parameters', 'param', plain(keys.param))}
          {group('Tags', 'tag', plain(keys.tag))}
          <div class="inline">
            <button type="button" onClick={() => updateQuery({ cols: null })}>Default columns</button>
            <button type="button" onClick={() => setOpen(false)}>Close</button>
          </div>
        </div>
      )}
    </>
  );
}

/** Runs in server order, each child right after its parent (when the parent is loaded and open). */
function groupRows(runs: Run[], expanded: Set<string>): Row[] {
  const loaded = new Set(runs.map((r) => r.info.run_id));
  const children = new Map<string, Run[]>();
  const top: Run[] = [];
  for (const run of runs) {
    const parent = tagValue(run.data.tags, PARENT_TAG);
    if (parent && parent !== run.info.run_id && loaded.has(parent)) {
      const list = children.get(parent) ?? [];
      list.push(run);
      children.set(parent, list);
    } else top.push(run);
  }
  const rows: Row[] = [];
  const seen = new Set<string>();
  const visit = (run: Run, depth: number) => {
    if (seen.has(run.info.run_id)) return;
    seen.add(run.info.run_id);
    const kids = children.get(run.info.run_id) ?? [];
    rows.push({ run, depth, children: kids.length });
    if (expanded.has(run.info.run_id)) kids.forEach((kid) => visit(kid, depth + 1));
  };
  top.forEach((run) => visit(run, 0));
  return rows;
}

function cellValue(run: Run, column: Column): { text: string; numeric?: boolean; title?: string } {
  switch (column.kind) {
    case 'metric': {
      const metric = run.data.metrics?.find((m) => m.key === column.key);
      return metric ? { text: formatValue(metric.value), numeric: true, title: String(metric.value) } : { text: '' };
    }
    case 'param': {
      const value = run.data.params?.find((p) => p.key === column.key)?.value ?? '';
      return { text: value, title: value };
    }
    case 'tag': {
      const value = tagValue(run.data.tags, column.key) ?? '';
      return { text: value, title: value };
    }
    case 'attr':
      switch (column.key) {
        case 'status': return { text: run.info.status };
        case 'start_time': return { text: formatTime(run.info.start_time) };
        case 'duration': return { text: formatDuration(run.info.start_time, run.info.end_time ?? (run.info.status === 'RUNNING' ? undefined : run.info.start_time)) };
        case 'user_id': return { text: run.info.user_id ?? tagValue(run.data.tags, 'mlflow.user') ?? '' };
        case 'source': {
          const source = tagValue(run.data.tags, 'mlflow.source.name') ?? '';
          return { text: source.split('/').pop() ?? '', title: source };
        }
      }
  }
  return { text: '' };
}

function columnLabel(column: Column): string {
  if (column.kind === 'attr') return ATTRIBUTES.find((a) => a.key === column.key)?.label ?? column.key;
  return column.key;
}

function RunsGrid({ rows, columns, sort, ascending, selected, setSelected, expanded, setExpanded, empty, filtered, onNearEnd }: {
  rows: Row[];
  columns: Column[];
  sort: string;
  ascending: boolean;
  selected: Set<string>;
  setSelected: (s: Set<string>) => void;
  expanded: Set<string>;
  setExpanded: (s: Set<string>) => void;
  empty: boolean;
  filtered: boolean;
  onNearEnd: () => void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });
  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    let frame = 0;
    const update = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => setView({ top: element.scrollTop, height: element.clientHeight }));
    };
    const observer = new ResizeObserver(update);
    observer.observe(element);
    element.addEventListener('scroll', update, { passive: true });
    update();
    return () => { observer.disconnect(); element.removeEventListener('scroll', update); cancelAnimationFrame(frame); };
  }, []);

  const first = Math.max(0, Math.floor(view.top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((view.top + view.height) / ROW_HEIGHT) + OVERSCAN);
  useEffect(() => { if (last >= rows.length - PREFETCH_ROWS) onNearEnd(); }, [last, rows.length]);

  const visibleIds = rows.map((r) => r.run.info.run_id);
  const allSelected = visibleIds.length > 0 && visibleIds.every((rid) => selected.has(rid));
  const sortBy = (id: string) => {
    if (!orderByOf(id)) return;
    updateQuery({ sort: id === 'attr:start_time' ? null : id, dir: id === sort ? (ascending ? null : 'asc') : (id.startsWith('attr:') && id !== 'attr:start_time' ? 'asc' : null) });
  };
  const header = (id: string, label: string) => {
    const sortable = !!orderByOf(id);
    const active = id === sort;
    return (
      <th scope="col" key={id} title={label} aria-sort={active ? (ascending ? 'ascending' : 'descending') : undefined}>
        {sortable ? (
          <button type="button" onClick={() => sortBy(id)} aria-label={`Sort by ${label}`}>
            {label}{active ? (ascending ? ' ▲' : ' ▼') : ''}
          </button>
        ) : label}
      </th>
    );
  };
  const width = 36 + 260 + columns.length * 130;
  return (
    <div class="runs-grid" ref={scroller}>
      <table aria-label="Runs" aria-rowcount={rows.length + 1} style={{ width: `${width}px` }}>
        <colgroup>
          <col style={{ width: '36px' }} />
          <col style={{ width: '260px' }} />
          {columns.map((c) => <col key={c.id} style={{ width: '130px' }} />)}
        </colgroup>
        <thead>
          <tr>
            <th scope="col">
              <input type="checkbox" aria-label="Select all runs" checked={allSelected}
                onChange={(e) => setSelected(e.currentTarget.checked ? new Set(visibleIds) : new Set())} />
            </th>
            {header('attr:run_name', 'Run name')}
            {columns.map((c) => header(c.id, `${c.kind === 'attr' ? '' : `${c.kind === 'param' ? 'Param' : c.kind === 'metric' ? 'Metric' : 'Tag'} `}${columnLabel(c)}`.trim()))}
          </tr>
        </thead>
        <tbody>
          {empty && <tr><td colSpan={columns.length + 2} class="muted">{filtered ? 'No runs match the filter.' : 'No runs in this experiment yet.'}</td></tr>}
          {first > 0 && <tr aria-hidden="true" style={{ height: `${first * ROW_HEIGHT}px` }} />}
          {rows.slice(first, last).map((row, offset) => {
            const run = row.run;
            const rid = run.info.run_id;
            const name = run.info.run_name || rid;
            const isOpen = expanded.has(rid);
            return (
              <tr key={rid} aria-rowindex={first + offset + 2} data-run-id={rid}
                class={[selected.has(rid) ? 'selected' : '', row.depth ? 'child' : '', run.info.lifecycle_stage === 'deleted' ? 'deleted' : ''].join(' ').trim() || undefined}>
                <td>
                  <input type="checkbox" aria-label={`Select ${name}`} checked={selected.has(rid)} onChange={(e) => {
                    const next = new Set(selected);
                    if (e.currentTarget.checked) next.add(rid); else next.delete(rid);
                    setSelected(next);
                  }} />
                </td>
                <td class="name" style={row.depth ? { paddingLeft: `${0.5 + row.depth * 1.5}rem` } : undefined} title={name}>
                  {row.children > 0 ? (
                    <button type="button" class="toggle" aria-expanded={isOpen} aria-label={`${isOpen ? 'Collapse' : 'Expand'} the ${row.children} child runs of ${name}`}
                      onClick={() => {
                        const next = new Set(expanded);
                        if (isOpen) next.delete(rid); else next.add(rid);
                        setExpanded(next);
                      }}>{isOpen ? '▾' : '▸'}</button>
                  ) : <span class="toggle" />}
                  <a href={runLink(rid)}>{name}</a>
                  {row.children > 0 && <span class="muted"> ({row.children})</span>}
                </td>
                {columns.map((c) => {
                  const cell = cellValue(run, c);
                  if (c.kind === 'attr' && c.key === 'status') return <td key={c.id}><span class={`badge ${cell.text}`}>{cell.text}</span></td>;
                  return <td key={c.id} class={cell.numeric ? 'num' : undefined} title={cell.title}>{cell.text}</td>;
                })}
              </tr>
            );
          })}
          {last < rows.length && <tr aria-hidden="true" style={{ height: `${(rows.length - last) * ROW_HEIGHT}px` }} />}
        </tbody>
      </table>
    </div>
  );
}

function SelectionActions({ selected, deleted, editable, onDone }: { selected: Set<string>; deleted: boolean; editable: boolean; onDone: () => void }) {
  const [run, error, busy] = useAction();
  const ids = Array.from(selected);
  return (
    <div class="selection-bar">
      <a class={`button${ids.length < 2 ? ' disabled' : ''}`} role="button" aria-disabled={ids.length < 2}
        href={ids.length >= 2 ? href('/compare', { runs: ids.join(',') }) : undefined}>Compare{ids.length ? ` ${ids.length}` : ''}</a>
      {!editable ? null : deleted ? (
        <button type="button" disabled={busy || ids.length === 0}
          onClick={async () => { if (await run(() => Promise.all(ids.map((rid) => api.restoreRun(rid))))) onDone(); }}>Restore</button>
      ) : (
        <button type="button" disabled={busy || ids.length === 0} onClick={async () => {
          if (window.confirm(`Delete ${ids.length} run${ids.length === 1 ? '' : 's'}? They can be restored until purged.`)
            && (await run(() => Promise.all(ids.map((rid) => api.deleteRun(rid)))))) onDone();
        }}>Delete</button>
      )}
      <ErrorMessage error={error} />
    </div>
  );
}
