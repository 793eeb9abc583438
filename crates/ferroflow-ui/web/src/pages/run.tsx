// One run: what it is (status, times, user, source, parent and children), its params, latest
// metrics, tags (editable), datasets and logged models, a chart for every metric, and a browser
// for its artifacts with previews.

import { useEffect, useState } from 'preact/hooks';
import { api, runArtifactUrl, type FileInfo, type Page, type Run } from '../api';
import { type Async, ErrorMessage, Loading, TagEditor, useAction, useAsync } from '../components';
import { ChartControls, chartSettings, MetricChart } from '../charts';
import { formatBytes, formatDuration, formatTime, formatValue, quote, tagValue } from '../format';
import { href } from '../router';
import { useCanEdit } from '../session';
import { experimentLink } from './experiments';
import { runLink } from './runs';
import './pages.css';

export function RunPage({ runId, query }: { runId: string; query: URLSearchParams }) {
  const state = useAsync(() => api.getRun(runId), [runId]);
  return (
    <Loading state={state} what="the run">
      {(run) => <RunView run={run} query={query} reload={state.reload} />}
    </Loading>
  );
}

function RunView({ run, query, reload }: { run: Run; query: URLSearchParams; reload: () => void }) {
  const info = run.info;
  const id = info.run_id;
  const tags = run.data.tags ?? [];
  const experiment = useAsync(() => api.getExperiment(info.experiment_id), [info.experiment_id]);
  const parentId = tagValue(tags, 'mlflow.parentRunId');
  const parent = useAsync(() => (parentId ? api.getRun(parentId).catch(() => null) : Promise.resolve(null)), [parentId]);
  const children = useAsync(() => api.searchRuns({
    experiment_ids: [info.experiment_id], filter: `tags.mlflow.parentRunId = ${quote(id)}`, max_results: 200,
  }), [id]);
  const editable = useCanEdit('experiment', info.experiment_id) && info.lifecycle_stage === 'active';
  const name = info.run_name || id;
  const source = tagValue(tags, 'mlflow.source.name');
  const commit = tagValue(tags, 'mlflow.source.git.commit');
  const note = tagValue(tags, 'mlflow.note.content');
  const metrics = [...(run.data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key, undefined, { numeric: true }));
  const params = [...(run.data.params ?? [])].sort((a, b) => a.key.localeCompare(b.key, undefined, { numeric: true }));

  return (
    <article>
      <p class="crumbs">
        <a href="#/experiments">Experiments</a> /{' '}
        <a href={experimentLink(info.experiment_id)}>{experiment.data?.name ?? info.experiment_id}</a> /
      </p>
      <div class="title-row">
        <RunName id={id} name={name} editable={editable} onRenamed={reload} />
        <span class={`badge ${info.status}`}>{info.status}</span>
        {info.lifecycle_stage !== 'active' && <span class="badge">deleted</span>}
      </div>
      <nav class="section-nav" aria-label="Sections of the run">
        <a href="#run-overview" onClick={jump('run-overview')}>Overview</a>
        <a href="#run-charts" onClick={jump('run-charts')}>Charts</a>
        <a href="#run-artifacts" onClick={jump('run-artifacts')}>Artifacts</a>
      </nav>
      <section id="run-overview" aria-label="Overview">
        <dl class="facts">
          <dt>Run ID</dt><dd>{id}</dd>
          <dt>Started</dt><dd>{formatTime(info.start_time)}</dd>
          <dt>Ended</dt><dd>{info.end_time ? formatTime(info.end_time) : <span class="muted">—</span>}</dd>
          <dt>Duration</dt><dd>{formatDuration(info.start_time, info.end_time)}</dd>
          <dt>User</dt><dd>{info.user_id || tagValue(tags, 'mlflow.user') || <span class="muted">—</span>}</dd>
          {source && <><dt>Source</dt><dd>{source}{commit ? ` @ ${commit.slice(0, 12)}` : ''}</dd></>}
          {parentId && (
            <><dt>Parent run</dt><dd><a href={runLink(parentId)}>{parent.data?.info.run_name || parentId}</a></dd></>
          )}
          <dt>Artifact URI</dt><dd>{info.artifact_uri}</dd>
        </dl>
        {note && <p class="value description-text">{note}</p>}
        <Children state={children} />
        <div class="grid2">
          <div>
            <h2>Parameters</h2>
            <table class="kv" aria-label="Parameters">
              <tbody>
                {params.length === 0 && <tr><td class="muted">No parameters</td></tr>}
                {params.map((p) => <tr key={p.key}><th scope="row">{p.key}</th><td class="value">{p.value}</td></tr>)}
              </tbody>
            </table>
          </div>
          <div>
            <h2>Metrics</h2>
            <table class="kv" aria-label="Metrics">
              <thead><tr><th scope="col">Key</th><th scope="col">Latest</th><th scope="col">Step</th></tr></thead>
              <tbody>
                {metrics.length === 0 && <tr><td colSpan={3} class="muted">No metrics</td></tr>}
                {metrics.map((m) => (
                  <tr key={m.key}>
                    <th scope="row"><a href={`#metric-${encodeURIComponent(m.key)}`} onClick={jump(`metric-${m.key}`)}>{m.key}</a></th>
                    <td title={String(m.value)}>{formatValue(m.value)}</td>
                    <td>{m.step}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
        <h2>Tags</h2>
        <TagEditor label="Run tags" tags={tags.filter((t) => t.key !== 'mlflow.note.content')} editable={editable}
          onSet={async (k, v) => { await api.setRunTag(id, k, v); reload(); }}
          onDelete={async (k) => { await api.deleteRunTag(id, k); reload(); }} />
        <Datasets run={run} />
        <Models run={run} />
      </section>
      <section id="run-charts" aria-label="Charts">
        <h2>Charts</h2>
        {metrics.length === 0 ? <p class="muted">This run has logged no metrics.</p> : (
          <>
            <ChartControls settings={chartSettings(query)} />
            <div class="charts">
              {metrics.map((m) => (
                <div id={`metric-${m.key}`} key={m.key}>
                  <MetricChart runs={[{ id, name }]} metric={m.key} settings={chartSettings(query)} />
                </div>
              ))}
            </div>
          </>
        )}
      </section>
      <section id="run-artifacts" aria-label="Artifacts">
        <h2>Artifacts</h2>
        <ArtifactBrowser run={run} />
      </section>
    </article>
  );
}

/** Scrolls to an element of the page without changing the route (the hash holds the route). */
function jump(elementId: string) {
  return (e: Event) => {
    e.preventDefault();
    document.getElementById(elementId)?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  };
}

function RunName({ id, name, editable, onRenamed }: { id: string; name: string; editable: boolean; onRenamed: () => void }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(name);
  const [run, error, busy] = useAction();
  if (!editing) {
    return (
      <>
        <h1>{name}</h1>
        {editable && <button type="button" onClick={() => { setDraft(name); setEditing(true); }}>Rename</button>}
      </>
    );
  }
  return (
    <form class="inline" onSubmit={async (e) => {
      e.preventDefault();
      if (await run(() => api.renameRun(id, draft.trim()))) { setEditing(false); onRenamed(); }
    }}>
      <input aria-label="Run name" value={draft} autoFocus onInput={(e) => setDraft(e.currentTarget.value)} />
      <button type="submit" class="primary" disabled={busy || !draft.trim()}>Save</button>
      <button type="button" onClick={() => setEditing(false)}>Cancel</button>
      <ErrorMessage error={error} />
    </form>
  );
}

function Children({ state }: { state: Async<Page<Run>> }) {
  if (state.error) return <ErrorMessage error={state.error} />;
  const runs = state.data?.items ?? [];
  if (runs.length === 0) return null;
  const ids = runs.map((r) => r.info.run_id);
  return (
    <details class="children" open={runs.length <= 20}>
      <summary>
        {runs.length}{state.data?.next ? '+' : ''} child run{runs.length === 1 ? '' : 's'}{' '}
        <a class="button" href={href('/compare', { runs: ids.join(',') })}>Compare the child runs</a>
      </summary>
      <ul aria-label="Child runs">
        {runs.map((r) => (
          <li key={r.info.run_id}>
            <a href={runLink(r.info.run_id)}>{r.info.run_name || r.info.run_id}</a>{' '}
            <span class={`badge ${r.info.status}`}>{r.info.status}</span>
          </li>
        ))}
      </ul>
    </details>
  );
}

function Datasets({ run }: { run: Run }) {
  const inputs = run.inputs?.dataset_inputs ?? [];
  if (inputs.length === 0) return null;
  return (
    <>
      <h2>Datasets</h2>
      <table class="list" aria-label="Datasets">
        <thead><tr><th scope="col">Name</th><th scope="col">Digest</th><th scope="col">Context</th><th scope="col">Source</th><th scope="col">Schema</th></tr></thead>
        <tbody>
          {inputs.map((input, i) => {
            const d = input.dataset;
            return (
              <tr key={`${d.name}-${d.digest}-${i}`}>
                <td>{d.name}</td>
                <td><code>{d.digest}</code></td>
                <td>{tagValue(input.tags, 'mlflow.data.context') ?? ''}</td>
                <td class="value">{d.source_type}{d.source ? `: ${d.source}` : ''}</td>
                <td>{d.schema ? <details><summary>schema</summary><pre>{pretty(d.schema)}</pre></details> : ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Logged models the run produced or used, and the registered versions made from the run. */
function Models({ run }: { run: Run }) {
  const ids = [
    ...(run.outputs?.model_outputs ?? []).map((m) => ({ id: m.model_id, role: `output, step ${m.step}` })),
    ...(run.inputs?.model_inputs ?? []).map((m) => ({ id: m.model_id, role: 'input' })),
  ];
  const logged = useAsync(() => Promise.all(ids.map((m) => api.getLoggedModel(m.id).catch(() => null))), [ids.map((m) => m.id).join(',')]);
  const versions = useAsync(() => api.versionsOfRun(run.info.run_id), [run.info.run_id]);
  if (ids.length === 0 && !versions.data?.length) return null;
  return (
    <>
      <h2>Models</h2>
      {ids.length > 0 && (
        <table class="list" aria-label="Logged models">
          <thead><tr><th scope="col">Logged model</th><th scope="col">ID</th><th scope="col">Role</th><th scope="col">Type</th><th scope="col">Status</th></tr></thead>
          <tbody>
            {ids.map((m, i) => {
              const model = logged.data?.[i];
              return (
                <tr key={`${m.id}-${m.role}`}>
                  <td>{model?.info.name ?? ''}</td><td><code>{m.id}</code></td><td>{m.role}</td>
                  <td>{model?.info.model_type ?? ''}</td><td>{model?.info.status ?? ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {versions.data && versions.data.length > 0 && (
        <ul aria-label="Registered versions">
          {versions.data.map((v) => (
            <li key={`${v.name}/${v.version}`}>
              Registered as{' '}
              <a href={href(`/models/${encodeURIComponent(v.name)}/versions/${encodeURIComponent(v.version)}`)}>{v.name} version {v.version}</a>
              {v.current_stage && v.current_stage !== 'None' ? ` (${v.current_stage})` : ''}
            </li>
          ))}
        </ul>
      )}
      <ErrorMessage error={versions.error} />
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// Artifacts

const TEXT = /\.(txt|log|md|py|r|sh|cfg|ini|toml|conf|sql|js|ts|html|xml|requirements|lock)$/i;
const JSON_FILE = /\.(json|jsonl|ipynb)$/i;
const YAML = /(\.ya?ml$|^MLmodel$|^MLproject$|\/MLmodel$)/;
const TABLE = /\.(csv|tsv)$/i;
const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg)$/i;
/** Files larger than this are offered for download instead of being previewed. */
const PREVIEW_LIMIT = 2 * 1024 * 1024;
const TABLE_ROWS = 500;

function ArtifactBrowser({ run }: { run: Run }) {
  const runId = run.info.run_id;
  const [selected, setSelected] = useState<{ path: string; size?: number } | null>(null);
  return (
    <div class="artifacts">
      <nav class="artifact-tree" aria-label="Artifact files">
        <Directory runId={runId} path="" selected={selected?.path} onSelect={setSelected} depth={0} />
      </nav>
      <div class="artifact-preview" aria-label="Artifact preview" role="region">
        {selected ? <Preview runId={runId} path={selected.path} size={selected.size} /> : <p class="muted">Choose a file to preview it.</p>}
      </div>
    </div>
  );
}

function Directory({ runId, path, selected, onSelect, depth }: {
  runId: string;
  path: string;
  selected?: string;
  onSelect: (file: { path: string; size?: number }) => void;
  depth: number;
}) {
  const listing = useAsync(() => api.listRunArtifacts(runId, path), [runId, path]);
  const [open, setOpen] = useState<Set<string>>(new Set());
  if (listing.error) return <ErrorMessage error={listing.error} />;
  if (!listing.data) return <p class="muted" aria-busy="true">Loading…</p>;
  const entries = sortEntries(listing.data);
  if (entries.length === 0 && depth === 0) return <p class="muted">No artifacts.</p>;
  return (
    <ul role={depth === 0 ? 'tree' : 'group'}>
      {entries.map((entry) => {
        const name = entry.path.split('/').pop()!;
        const full = path ? `${path}/${name}` : name;
        if (entry.is_dir) {
          const isOpen = open.has(full);
          return (
            <li key={full} role="treeitem" aria-expanded={isOpen}>
              <button type="button" onClick={() => {
                const next = new Set(open);
                if (isOpen) next.delete(full); else next.add(full);
                setOpen(next);
              }}>{isOpen ? '▾' : '▸'} {name}/</button>
              {isOpen && <Directory runId={runId} path={full} selected={selected} onSelect={onSelect} depth={depth + 1} />}
            </li>
          );
        }
        const size = entry.file_size === undefined ? undefined : Number(entry.file_size);
        return (
          <li key={full} role="treeitem">
            <button type="button" aria-current={selected === full ? 'true' : undefined} onClick={() => onSelect({ path: full, size })}>
              {name} <span class="muted">{formatBytes(size)}</span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}

function sortEntries(entries: FileInfo[]): FileInfo[] {
  return [...entries].sort((a, b) => Number(b.is_dir) - Number(a.is_dir) || a.path.localeCompare(b.path));
}

type PreviewKind = 'text' | 'json' | 'yaml' | 'table' | 'image' | 'none';

function previewKind(path: string): PreviewKind {
  const name = path.split('/').pop() ?? path;
  if (IMAGE.test(name)) return 'image';
  if (TABLE.test(name)) return 'table';
  if (JSON_FILE.test(name)) return 'json';
  if (YAML.test(name) || YAML.test(path)) return 'yaml';
  if (TEXT.test(name) || !name.includes('.')) return 'text';
  return 'none';
}

function Preview({ runId, path, size }: { runId: string; path: string; size?: number }) {
  const url = runArtifactUrl(runId, path);
  const kind = previewKind(path);
  const tooBig = size !== undefined && size > PREVIEW_LIMIT;
  const download = (
    <p class="toolbar">
      <strong>{path}</strong>
      <span class="muted">{formatBytes(size)}</span>
      <a class="button" href={url} download={path.split('/').pop()}>Download</a>
    </p>
  );
  if (kind === 'image') {
    return <>{download}<img src={url} alt={path} /></>;
  }
  if (kind === 'none' || tooBig) {
    return <>{download}<p class="muted">{tooBig ? 'This file is too large to preview.' : 'No preview for this kind of file.'}</p></>;
  }
  return <>{download}<TextPreview url={url} kind={kind} path={path} /></>;
}

function TextPreview({ url, kind, path }: { url: string; kind: PreviewKind; path: string }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    let current = true;
    setText(null);
    setError(null);
    fetch(url, { credentials: 'same-origin' })
      .then(async (response) => {
        if (!response.ok) throw new Error(`Could not read ${path}: ${response.status} ${response.statusText}`);
        return response.text();
      })
      .then((body) => current && setText(body), (e: Error) => current && setError(e));
    return () => { current = false; };
  }, [url]);
  if (error) return <ErrorMessage error={error} />;
  if (text === null) return <p class="muted" aria-busy="true">Loading…</p>;
  if (kind === 'table') return <CsvTable text={text} separator={path.toLowerCase().endsWith('.tsv') ? '\t' : ','} />;
  return <pre data-preview={kind}>{kind === 'json' ? pretty(text) : text}</pre>;
}

/** RFC 4180 fields: quoted fields may hold separators, doubled quotes and line breaks. */
export function parseCsv(text: string, separator: string, maxRows: number): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === separator) { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if ((field !== '' || row.length > 0) && rows.length < maxRows) { row.push(field); rows.push(row); }
  return rows;
}

function CsvTable({ text, separator }: { text: string; separator: string }) {
  const rows = parseCsv(text, separator, TABLE_ROWS + 1);
  if (rows.length === 0) return <p class="muted">The file is empty.</p>;
  const [head, ...body] = rows;
  const shown = body.slice(0, TABLE_ROWS - 1);
  return (
    <>
      <table class="csv-preview" aria-label="Table preview">
        <thead><tr>{head.map((h, i) => <th scope="col" key={i}>{h}</th>)}</tr></thead>
        <tbody>{shown.map((r, i) => <tr key={i}>{r.map((v, j) => <td key={j}>{v}</td>)}</tr>)}</tbody>
      </table>
      {body.length > shown.length && <p class="muted">Showing the first {shown.length} rows.</p>}
    </>
  );
}
