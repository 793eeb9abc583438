// The experiments list: search by name, create, rename, delete and restore, and each experiment's
// tags at a glance.

import { useState } from 'preact/hooks';
import { api, type Experiment } from '../api';
import { ErrorMessage, Loading, LoadMore, useAction, usePaged, useQueryDraft } from '../components';
import { formatTime, quote } from '../format';
import { href, updateQuery } from '../router';
import { canEditFromGrants, type Session, useSession } from '../session';
import './pages.css';

export const experimentLink = (id: string) => href(`/experiments/${encodeURIComponent(id)}`);

export function ExperimentsPage({ query }: { query: URLSearchParams }) {
  const search = query.get('q') ?? '';
  const deleted = query.get('deleted') === '1';
  const [draft, setDraft, commitDraft] = useQueryDraft('q', search);
  const filter = search ? `name ILIKE ${quote(`%${search}%`)}` : undefined;
  const viewType = deleted ? 'DELETED_ONLY' : 'ACTIVE_ONLY';
  const listing = usePaged((page_token) => api.searchExperiments({ filter, view_type: viewType, page_token }), `${filter}|${viewType}`);
  const session = useSession();

  return (
    <section>
      <div class="title-row">
        <h1>Experiments</h1>
        <CreateExperiment />
      </div>
      <form class="toolbar" role="search" onSubmit={(e) => { e.preventDefault(); commitDraft(); }}>
        <input type="search" class="grow" placeholder="Search by name" aria-label="Search experiments by name" value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)} />
        <label>
          <input type="checkbox" checked={deleted} onChange={(e) => updateQuery({ deleted: e.currentTarget.checked ? '1' : null })} />{' '}
          Show deleted experiments
        </label>
      </form>
      <Loading state={listing.first} what="experiments">
        {() => (
          <>
            <table class="list" aria-label="Experiments">
              <thead>
                <tr>
                  <th scope="col">Name</th><th scope="col">ID</th><th scope="col">Tags</th>
                  <th scope="col">Created</th><th scope="col">Last updated</th>
                  <th scope="col"><span class="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {listing.items!.length === 0 && (
                  <tr><td colSpan={6} class="muted">
                    {search ? `No experiments match “${search}”.` : deleted ? 'No deleted experiments.' : 'No experiments yet.'}
                  </td></tr>
                )}
                {listing.items!.map((experiment) => (
                  <ExperimentRow key={experiment.experiment_id} experiment={experiment} session={session} onChange={listing.reload} />
                ))}
              </tbody>
            </table>
            <LoadMore paged={listing} />
          </>
        )}
      </Loading>
    </section>
  );
}

function CreateExperiment() {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [run, error, busy] = useAction();
  if (!open) return <button type="button" class="primary" onClick={() => setOpen(true)}>New experiment</button>;
  return (
    <form class="dialog" aria-label="New experiment" onSubmit={async (e) => {
      e.preventDefault();
      let id = '';
      if (await run(async () => { id = (await api.createExperiment(name.trim())).experiment_id; })) {
        window.location.hash = experimentLink(id);
      }
    }}>
      <div class="inline">
        <label>Experiment name <input value={name} required autoFocus onInput={(e) => setName(e.currentTarget.value)} /></label>
        <button type="submit" class="primary" disabled={busy || !name.trim()}>Create</button>
        <button type="button" onClick={() => { setOpen(false); setName(''); }}>Cancel</button>
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}

function ExperimentRow({ experiment, session, onChange }: { experiment: Experiment; session?: Session; onChange: () => void }) {
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(experiment.name);
  const [run, error, busy] = useAction();
  const id = experiment.experiment_id;
  const active = experiment.lifecycle_stage === 'active';
  const tags = (experiment.tags ?? []).filter((t) => !t.key.startsWith('mlflow.'));
  // The list asks for no permission per row: the user's own grants (and admin) decide what it offers.
  const editable = canEditFromGrants(session, 'experiment', id);
  return (
    <tr class={active ? undefined : 'deleted'}>
      <td>
        {renaming ? (
          <form class="inline" onSubmit={async (e) => {
            e.preventDefault();
            if (await run(() => api.renameExperiment(id, name.trim()))) { setRenaming(false); onChange(); }
          }}>
            <input aria-label={`New name of ${experiment.name}`} value={name} autoFocus onInput={(e) => setName(e.currentTarget.value)} />
            <button type="submit" disabled={busy || !name.trim() || name.trim() === experiment.name}>Save</button>
            <button type="button" onClick={() => { setRenaming(false); setName(experiment.name); }}>Cancel</button>
          </form>
        ) : <a href={experimentLink(id)}>{experiment.name}</a>}
        <ErrorMessage error={error} />
      </td>
      <td>{id}</td>
      <td>{tags.map((t) => <span key={t.key} class="badge" title={`${t.key}=${t.value}`}>{t.key}: {t.value}</span>)}</td>
      <td>{formatTime(experiment.creation_time)}</td>
      <td>{formatTime(experiment.last_update_time)}</td>
      <td class="actions">
        {!editable ? null : active ? (
          <>
            {!renaming && <button type="button" aria-label={`Rename ${experiment.name}`} onClick={() => setRenaming(true)}>Rename</button>}
            <button type="button" aria-label={`Delete ${experiment.name}`} disabled={busy} onClick={async () => {
              if (window.confirm(`Delete the experiment “${experiment.name}”? It can be restored until it is purged.`)
                && (await run(() => api.deleteExperiment(id)))) onChange();
            }}>Delete</button>
          </>
        ) : (
          <button type="button" aria-label={`Restore ${experiment.name}`} disabled={busy}
            onClick={async () => { if (await run(() => api.restoreExperiment(id))) onChange(); }}>Restore</button>
        )}
      </td>
    </tr>
  );
}
