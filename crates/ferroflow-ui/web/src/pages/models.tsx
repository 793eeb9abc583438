// The model registry: the registered models, one model (description, tags, aliases, versions) and
// one version (stage, aliases, description, tags, and the signature read from its MLmodel file).

import { useEffect, useState } from 'preact/hooks';
import { api, modelVersionFileUrl, type ModelVersion } from '../api';
import { ErrorMessage, Loading, LoadMore, TagEditor, useAction, useAsync, usePaged, useQueryDraft } from '../components';
import { formatTime, quote } from '../format';
import { href } from '../router';
import { useCanEdit } from '../session';
import { runLink } from './runs';
import './pages.css';

const modelPath = (name: string) => `/models/${encodeURIComponent(name)}`;
const versionPath = (name: string, version: string) => `${modelPath(name)}/versions/${encodeURIComponent(version)}`;

function Stage({ stage }: { stage?: string }) {
  if (!stage || stage === 'None') return <span class="muted">None</span>;
  return <span class={`badge stage-${stage}`}>{stage}</span>;
}

function AliasBadges({ aliases }: { aliases?: string[] }) {
  if (!aliases?.length) return null;
  return <span class="aliases">{aliases.map((a) => <span key={a} class="badge alias">@{a}</span>)}</span>;
}

// ---------------------------------------------------------------------------------------------
// The list of registered models

export function ModelsPage({ query }: { query: URLSearchParams }) {
  const search = query.get('q') ?? '';
  const [draft, setDraft, commitDraft] = useQueryDraft('q', search);
  const filter = search ? `name ILIKE ${quote(`%${search}%`)}` : undefined;
  const list = usePaged((page_token) => api.searchModels({ filter, page_token }), filter ?? '');
  return (
    <section>
      <h1>Registered models</h1>
      <form class="toolbar" role="search" onSubmit={(e) => { e.preventDefault(); commitDraft(); }}>
        <input type="search" class="grow" placeholder="Search by name" aria-label="Search models by name" value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)} />
        <button type="submit">Search</button>
      </form>
      <Loading state={list.first} what="models">
        {() => (
          <>
            <table class="list" aria-label="Registered models">
              <thead>
                <tr><th scope="col">Name</th><th scope="col">Latest versions</th><th scope="col">Aliases</th><th scope="col">Last modified</th></tr>
              </thead>
              <tbody>
                {list.items!.length === 0 && (
                  <tr><td colSpan={4} class="muted">{search ? `No models match “${search}”.` : 'No registered models yet.'}</td></tr>
                )}
                {list.items!.map((model) => (
                  <tr key={model.name}>
                    <td><a href={href(modelPath(model.name))}>{model.name}</a></td>
                    <td>
                      {(model.latest_versions ?? []).map((v) => (
                        <span key={v.version} class="version-chip">
                          <a href={href(versionPath(model.name, v.version))}>Version {v.version}</a>
                          {v.current_stage && v.current_stage !== 'None' && <> <Stage stage={v.current_stage} /></>}
                        </span>
                      ))}
                    </td>
                    <td>
                      {(model.aliases ?? []).map((a) => (
                        <a key={a.alias} class="badge alias" href={href(versionPath(model.name, a.version))}>@{a.alias}: v{a.version}</a>
                      ))}
                    </td>
                    <td>{formatTime(model.last_updated_timestamp)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <LoadMore paged={list} />
          </>
        )}
      </Loading>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// Shared editors

/** A description's textarea; Save is enabled once it differs from the stored text. */
function DescriptionEditor({ value, onSave, label }: { value: string; onSave: (text: string) => Promise<unknown>; label: string }) {
  const [draft, setDraft] = useState(value);
  const [saved, setSaved] = useState(false);
  const [run, error, busy] = useAction();
  useEffect(() => setDraft(value), [value]);
  return (
    <form class="description" onSubmit={async (e) => {
      e.preventDefault();
      setSaved(await run(() => onSave(draft)));
    }}>
      <textarea aria-label={label} rows={4} value={draft} placeholder="No description"
        onInput={(e) => { setDraft(e.currentTarget.value); setSaved(false); }} />
      <div class="inline">
        <button type="submit" class="primary" disabled={busy || draft === value}>Save description</button>
        {draft !== value && <button type="button" onClick={() => setDraft(value)}>Discard changes</button>}
        {saved && draft === value && <span class="muted" role="status">Saved</span>}
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}

/** A description as read-only users see it. */
function Description({ text }: { text?: string }) {
  return text ? <p class="value">{text}</p> : <p class="muted">No description</p>;
}

/** The form that points an alias at a version; `versions` offers a choice, else `version` is fixed. */
function SetAliasForm({ onSet, versions }: { onSet: (alias: string, version: string) => Promise<unknown>; versions: string[] }) {
  const [alias, setAlias] = useState('');
  const [version, setVersion] = useState(versions[0] ?? '');
  const [run, error, busy] = useAction();
  useEffect(() => { if (!versions.includes(version)) setVersion(versions[0] ?? ''); }, [versions.join(',')]);
  return (
    <>
      <form class="inline" onSubmit={async (e) => {
        e.preventDefault();
        if (alias && version && (await run(() => onSet(alias.trim(), version)))) setAlias('');
      }}>
        <label>Alias <input value={alias} placeholder="champion" onInput={(e) => setAlias(e.currentTarget.value)} /></label>
        {versions.length > 1 && (
          <label>Version{' '}
            <select value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
              {versions.map((v) => <option key={v} value={v}>{v}</option>)}
            </select>
          </label>
        )}
        <button type="submit" disabled={busy || !alias.trim() || !version}>Set alias</button>
      </form>
      <ErrorMessage error={error} />
    </>
  );
}

function RemoveAliasButton({ alias, onRemove }: { alias: string; onRemove: () => Promise<unknown> }) {
  const [run, error, busy] = useAction();
  return (
    <>
      <button type="button" aria-label={`Remove alias ${alias}`} disabled={busy} onClick={() => run(onRemove)}>Remove</button>
      <ErrorMessage error={error} />
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// One registered model

export function ModelPage({ name }: { name: string }) {
  const editable = useCanEdit('registered_model', name);
  const state = useAsync(async () => {
    const [model, versions] = await Promise.all([api.getModel(name), api.searchVersions(name)]);
    return { model, versions };
  }, [name]);
  const reload = state.reload;
  const after = (action: () => Promise<unknown>) => async () => { await action(); reload(); };

  return (
    <Loading state={state} what="model">
      {({ model, versions }) => {
        const aliases = [...(model.aliases ?? [])].sort((a, b) => a.alias.localeCompare(b.alias));
        const aliasesOf = (version: string) => aliases.filter((a) => a.version === version).map((a) => a.alias);
        return (
          <section>
            <p class="crumbs"><a href={href('/models')}>Models</a> /</p>
            <h1>{model.name}</h1>
            <dl class="facts">
              <dt>Created</dt><dd>{formatTime(model.creation_timestamp)}</dd>
              <dt>Last modified</dt><dd>{formatTime(model.last_updated_timestamp)}</dd>
              <dt>Versions</dt><dd>{versions.length}</dd>
            </dl>

            <h2>Description</h2>
            {editable ? (
              <DescriptionEditor label={`Description of model ${model.name}`} value={model.description ?? ''}
                onSave={(text) => after(() => api.updateModel(name, text))()} />
            ) : <Description text={model.description} />}

            <h2>Versions</h2>
            <VersionsTable name={name} versions={versions} aliasesOf={aliasesOf} />

            <div class="grid2">
              <div>
                <h2>Aliases</h2>
                <table class="list" aria-label="Aliases">
                  <thead><tr><th scope="col">Alias</th><th scope="col">Version</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
                  <tbody>
                    {aliases.length === 0 && <tr><td colSpan={3} class="muted">No aliases</td></tr>}
                    {aliases.map((a) => (
                      <tr key={a.alias}>
                        <td><span class="badge alias">@{a.alias}</span></td>
                        <td><a href={href(versionPath(name, a.version))}>Version {a.version}</a></td>
                        <td class="actions">{editable && <RemoveAliasButton alias={a.alias} onRemove={after(() => api.deleteAlias(name, a.alias))} />}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {!editable ? null : versions.length > 0
                  ? <div class="add-tag"><SetAliasForm versions={versions.map((v) => v.version)}
                      onSet={(alias, version) => after(() => api.setAlias(name, alias, version))()} /></div>
                  : <p class="muted">Register a version to give it an alias.</p>}
              </div>
              <div>
                <h2>Tags</h2>
                <TagEditor label="Model tags" editable={editable} tags={model.tags ?? []}
                  onSet={(key, value) => after(() => api.setModelTag(name, key, value))()}
                  onDelete={(key) => after(() => api.deleteModelTag(name, key))()} />
              </div>
            </div>
          </section>
        );
      }}
    </Loading>
  );
}

function VersionsTable({ name, versions, aliasesOf }: { name: string; versions: ModelVersion[]; aliasesOf: (v: string) => string[] }) {
  return (
    <table class="list" aria-label="Model versions">
      <thead>
        <tr><th scope="col">Version</th><th scope="col">Stage</th><th scope="col">Aliases</th><th scope="col">Created</th><th scope="col">Source run</th></tr>
      </thead>
      <tbody>
        {versions.length === 0 && <tr><td colSpan={5} class="muted">No versions</td></tr>}
        {versions.map((v) => (
          <tr key={v.version}>
            <td><a href={href(versionPath(name, v.version))}>Version {v.version}</a></td>
            <td><Stage stage={v.current_stage} /></td>
            <td><AliasBadges aliases={v.aliases?.length ? v.aliases : aliasesOf(v.version)} /></td>
            <td>{formatTime(v.creation_timestamp)}</td>
            <td>{v.run_id ? <a href={runLink(v.run_id)}><code>{v.run_id}</code></a> : <span class="muted">—</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// ---------------------------------------------------------------------------------------------
// One model version

const STAGES = ['None', 'Staging', 'Production', 'Archived'];

function StageControl({ current, onTransition }: { current: string; onTransition: (stage: string, archive: boolean) => Promise<unknown> }) {
  const [stage, setStage] = useState(current);
  const [archive, setArchive] = useState(false);
  const [run, error, busy] = useAction();
  useEffect(() => setStage(current), [current]);
  const archivable = stage === 'Staging' || stage === 'Production';
  return (
    <>
      <form class="inline" onSubmit={(e) => { e.preventDefault(); run(() => onTransition(stage, archivable && archive)); }}>
        <label>New stage{' '}
          <select value={stage} onChange={(e) => setStage(e.currentTarget.value)}>
            {STAGES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>
          <input type="checkbox" checked={archive} disabled={!archivable} onChange={(e) => setArchive(e.currentTarget.checked)} />
          {' '}Archive existing versions in this stage
        </label>
        <button type="submit" disabled={busy || stage === current}>Transition</button>
      </form>
      <ErrorMessage error={error} />
    </>
  );
}

export function VersionPage({ name, version }: { name: string; version: string }) {
  const editable = useCanEdit('registered_model', name);
  const state = useAsync(() => api.getVersion(name, version), [name, version]);
  const reload = state.reload;
  const after = (action: () => Promise<unknown>) => async () => { await action(); reload(); };

  return (
    <Loading state={state} what="model version">
      {(v) => {
        const aliases = [...(v.aliases ?? [])].sort();
        return (
          <section>
            <p class="crumbs"><a href={href('/models')}>Models</a> / <a href={href(modelPath(name))}>{name}</a> /</p>
            <h1>{name} <span class="muted">version {v.version}</span></h1>
            <dl class="facts">
              <dt>Status</dt><dd>{v.status ?? ''}</dd>
              <dt>Stage</dt><dd><Stage stage={v.current_stage} /></dd>
              <dt>Created</dt><dd>{formatTime(v.creation_timestamp)}</dd>
              <dt>Last modified</dt><dd>{formatTime(v.last_updated_timestamp)}</dd>
              <dt>Source</dt><dd><code>{v.source ?? ''}</code></dd>
              <dt>Source run</dt><dd>{v.run_id ? <a href={runLink(v.run_id)}><code>{v.run_id}</code></a> : <span class="muted">—</span>}</dd>
            </dl>

            {editable && (
              <>
                <h2>Stage</h2>
                <StageControl current={v.current_stage || 'None'}
                  onTransition={(stage, archive) => after(() => api.transitionStage(name, version, stage, archive))()} />
              </>
            )}

            <h2>Aliases</h2>
            <ul class="alias-list" aria-label="Aliases of this version">
              {aliases.length === 0 && <li class="muted">No aliases</li>}
              {aliases.map((alias) => (
                <li key={alias}>
                  <span class="badge alias">@{alias}</span>{' '}
                  {editable && <RemoveAliasButton alias={alias} onRemove={after(() => api.deleteAlias(name, alias))} />}
                </li>
              ))}
            </ul>
            {editable && <SetAliasForm versions={[v.version]} onSet={(alias) => after(() => api.setAlias(name, alias, v.version))()} />}

            <h2>Description</h2>
            {editable ? (
              <DescriptionEditor label={`Description of version ${v.version}`} value={v.description ?? ''}
                onSave={(text) => after(() => api.updateVersion(name, version, text))()} />
            ) : <Description text={v.description} />}

            <h2>Tags</h2>
            <TagEditor label="Version tags" editable={editable} tags={v.tags ?? []}
              onSet={(key, value) => after(() => api.setVersionTag(name, version, key, value))()} />

            <h2>Signature</h2>
            <Signature name={name} version={version} />
          </section>
        );
      }}
    </Loading>
  );
}

// ---------------------------------------------------------------------------------------------
// The signature, from the version's MLmodel file

type Column = { name: string; type: string; required: boolean };
type SignatureSpec = { inputs: Column[] | null; outputs: Column[] | null; params: Column[] | null };

/** The index of the quote that closes a single-quoted YAML scalar in `text`, or -1. */
function closingQuote(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "'") continue;
    if (text[i + 1] === "'") { i += 1; continue; }
    return i;
  }
  return -1;
}

/**
 * The values of a YAML block's `key: '...'` entries, for the `signature:` block of an MLmodel file.
 * PyYAML writes them as single-quoted scalars that it folds over several lines when long: a line
 * break inside one reads as a space, and `''` is a quote.
 */
export function signatureBlock(text: string): Record<string, string> | null {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((line) => /^signature:\s*$/.test(line));
  if (start < 0) return null;
  const entries: Record<string, string> = {};
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    if (!/^\s/.test(line)) break; // the block ended
    const match = line.match(/^\s+([\w-]+):\s*(.*)$/);
    if (!match) continue;
    const [, key, rest] = match;
    if (!rest.startsWith("'")) { entries[key] = rest.trim(); continue; }
    // Gather the quoted scalar up to its closing quote (a `'` not doubled).
    const parts: string[] = [];
    let body = rest.slice(1);
    for (;;) {
      const close = closingQuote(body);
      if (close >= 0) { parts.push(body.slice(0, close)); break; }
      parts.push(body.trimEnd());
      i += 1;
      if (i >= lines.length) break;
      body = lines[i].trimStart();
    }
    entries[key] = parts.reduce((joined, part, index) =>
      index === 0 ? part : part === '' ? `${joined}\n` : `${joined}${joined.endsWith('\n') ? '' : ' '}${part}`, '').replace(/''/g, "'");
  }
  return entries;
}

function describeType(spec: any): string {
  if (!spec || typeof spec !== 'object') return String(spec ?? '');
  if (spec.type === 'tensor') {
    const tensor = spec['tensor-spec'] ?? {};
    return `tensor (${tensor.dtype ?? '?'}${Array.isArray(tensor.shape) ? `, shape [${tensor.shape.join(', ')}]` : ''})`;
  }
  if (spec.type === 'array') return `array<${describeType(spec.items)}>`;
  if (spec.type === 'object' && spec.properties && typeof spec.properties === 'object') {
    const fields = Object.entries(spec.properties as Record<string, any>).map(([key, value]) => `${key}: ${describeType(value)}`);
    return `object {${fields.join(', ')}}`;
  }
  if (spec.type === 'map') return `map<string, ${describeType(spec.values)}>`;
  return String(spec.type ?? JSON.stringify(spec));
}

function columns(json: string | undefined): Column[] | null {
  if (!json || json === 'null') return null;
  const parsed = JSON.parse(json);
  if (!Array.isArray(parsed)) return null;
  return parsed.map((column: any, index: number) => ({
    name: column?.name ?? `(${index})`,
    type: describeType(column) + (column && 'default' in column ? ` = ${JSON.stringify(column.default)}` : ''),
    required: column?.required !== false,
  }));
}

export function parseSignature(mlmodel: string): SignatureSpec | null {
  const block = signatureBlock(mlmodel);
  if (!block) return null;
  return { inputs: columns(block.inputs), outputs: columns(block.outputs), params: columns(block.params) };
}

type MLmodelFile = { text: string } | { missing: string };

/** The version's `MLmodel` file, read below its storage location wherever that is. */
async function readMLmodel(name: string, version: string): Promise<MLmodelFile> {
  const response = await fetch(modelVersionFileUrl(name, version, 'MLmodel'), { credentials: 'same-origin' });
  if (response.status === 404) {
    // The server says which is missing: the version's files, or the file.
    const reason = await response.json().then((body: { message?: string }) => body.message, () => undefined);
    return { missing: `No signature: ${(reason ?? 'the model has no MLmodel file').replace(/\.$/, '')}.` };
  }
  if (!response.ok) throw new Error(`Reading MLmodel failed: ${response.status} ${response.statusText}`);
  return { text: await response.text() };
}

function SignatureTable({ label, rows }: { label: string; rows: Column[] | null }) {
  return (
    <div>
      <h3>{label}</h3>
      {rows === null ? <p class="muted">Not specified</p> : (
        <table class="list" aria-label={`Signature ${label.toLowerCase()}`}>
          <thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Required</th></tr></thead>
          <tbody>
            {rows.map((row, i) => (
              <tr key={i}><td>{row.name}</td><td><code>{row.type}</code></td><td>{row.required ? 'yes' : 'no'}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Signature({ name, version }: { name: string; version: string }) {
  const file = useAsync(() => readMLmodel(name, version), [name, version]);
  return (
    <Loading state={file} what="the MLmodel file">
      {(result) => {
        if ('missing' in result) return <p class="muted">{result.missing}</p>;
        let signature: SignatureSpec | null = null;
        let problem: string | null = null;
        try {
          signature = parseSignature(result.text);
        } catch (e) {
          problem = `The signature in MLmodel can't be parsed: ${(e as Error).message}`;
        }
        return (
          <>
            {problem ? <p class="error">{problem}</p>
              : !signature ? <p class="muted">The model was logged without a signature.</p>
              : (
                <div class="grid2 signature">
                  <SignatureTable label="Inputs" rows={signature.inputs} />
                  <SignatureTable label="Outputs" rows={signature.outputs} />
                  {signature.params && <SignatureTable label="Parameters" rows={signature.params} />}
                </div>
              )}
            <details class="mlmodel">
              <summary>MLmodel file</summary>
              <pre>{result.text}</pre>
            </details>
          </>
        );
      }}
    </Loading>
  );
}
