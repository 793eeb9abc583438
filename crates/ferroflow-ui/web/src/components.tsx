// Small building blocks shared by the pages.

import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Page } from './api';
import { updateQuery } from './router';

export type Async<T> = { data?: T; error?: Error; loading: boolean; reload: () => void };

/** Runs `load` when `deps` change and keeps its result; a newer load wins over an older one. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === generation.current && setState({ data, loading: false }),
      (error: Error) => mine === generation.current && setState({ error, loading: false }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  // Before the browser paints: the request goes out a frame sooner.
  useLayoutEffect(run, [run]);
  return { ...state, reload: run };
}

export function ErrorMessage({ error }: { error?: Error | null }) {
  if (!error) return null;
  const signIn = error instanceof ApiError && error.status === 401;
  return (
    <p class="error" role="alert">
      {signIn ? 'Sign in required: ' : ''}
      {error.message}
    </p>
  );
}

export function NotFound({ what }: { what: string }) {
  return (
    <section class="not-found">
      <h1>Not found</h1>
      <p>{what}</p>
      <p><a href="#/experiments">Back to the experiments</a></p>
    </section>
  );
}

/** What a page shows while it loads or after its load failed; a missing resource is a 404 page. */
export function Loading<T>({ state, what, children }: { state: Async<T>; what: string; children: (data: T) => ComponentChildren }) {
  if (state.error) {
    if (state.error instanceof ApiError && state.error.code === 'RESOURCE_DOES_NOT_EXIST') return <NotFound what={state.error.message} />;
    return <ErrorMessage error={state.error} />;
  }
  if (state.data === undefined) return <p class="muted" aria-busy="true">Loading {what}…</p>;
  return <>{children(state.data)}</>;
}

/** Runs an edit, reporting its failure next to the control that made it. */
export function useAction(): [(action: () => Promise<unknown>) => Promise<boolean>, Error | null, boolean] {
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      return true;
    } catch (e) {
      setError(e as Error);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return [run, error, busy];
}

/** A key/value table with add, edit and delete, for tags. Keys starting `mlflow.` are read-only. */
export function TagEditor({ tags, onSet, onDelete, editable, label }: {
  tags: { key: string; value: string }[];
  onSet: (key: string, value: string) => Promise<unknown>;
  onDelete?: (key: string) => Promise<unknown>;
  editable: boolean;
  label: string;
}) {
  const [run, error, busy] = useAction();
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState('');
  const sorted = [...tags].sort((a, b) => a.key.localeCompare(b.key));
  return (
    <div class="tags">
      <table class="kv" aria-label={label}>
        <thead><tr><th scope="col">Key</th><th scope="col">Value</th>{editable && <th scope="col"><span class="sr-only">Actions</span></th>}</tr></thead>
        <tbody>
          {sorted.length === 0 && <tr><td colSpan={3} class="muted">No tags</td></tr>}
          {sorted.map((tag) => {
            const system = tag.key.startsWith('mlflow.');
            return (
              <tr key={tag.key}>
                <th scope="row">{tag.key}</th>
                <td>
                  {editing === tag.key ? (
                    <form class="inline" onSubmit={async (e) => {
                      e.preventDefault();
                      if (await run(() => onSet(tag.key, draft))) setEditing(null);
                    }}>
                      <input aria-label={`Value of tag ${tag.key}`} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
                      <button type="submit" disabled={busy}>Save</button>
                      <button type="button" onClick={() => setEditing(null)}>Cancel</button>
                    </form>
                  ) : <span class="value">{tag.value}</span>}
                </td>
                {editable && (
                  <td class="actions">
                    {!system && editing !== tag.key && (
                      <button type="button" aria-label={`Edit tag ${tag.key}`} onClick={() => { setEditing(tag.key); setDraft(tag.value); }}>Edit</button>
                    )}
                    {!system && onDelete && (
                      <button type="button" aria-label={`Delete tag ${tag.key}`} disabled={busy} onClick={() => run(() => onDelete(tag.key))}>Delete</button>
                    )}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {editable && (
        <form class="inline add-tag" onSubmit={async (e) => {
          e.preventDefault();
          if (key && (await run(() => onSet(key, value)))) { setKey(''); setValue(''); }
        }}>
          <input aria-label="New tag key" placeholder="key" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
          <input aria-label="New tag value" placeholder="value" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
          <button type="submit" disabled={busy || !key}>Add tag</button>
        </form>
      )}
      <ErrorMessage error={error} />
    </div>
  );
}

/** Turns a promise-returning handler into one for onClick that never leaves a rejection unhandled. */
export function safely(action: () => Promise<unknown>, onError: (e: Error) => void) {
  return () => { action().catch(onError); };
}

/**
 * A search box's text for the URL's query value `name`: it follows the URL (back and forward), and
 * typing writes it to the URL after a pause. `commit` writes it at once (on submit).
 */
export function useQueryDraft(name: string, value: string): [string, (text: string) => void, () => void] {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  useEffect(() => {
    if (draft === value) return;
    const timer = window.setTimeout(() => updateQuery({ [name]: draft || null }), 300);
    return () => window.clearTimeout(timer);
  }, [draft]);
  return [draft, setDraft, () => updateQuery({ [name]: draft || null })];
}

export type Paged<T> = {
  first: Async<Page<T>>;
  /** The items of every page loaded so far (undefined until the first arrives). */
  items?: T[];
  next?: string;
  loadMore: () => void;
  busy: boolean;
  error: Error | null;
  /** Starts again from the first page. */
  reload: () => void;
};

/** A listing read page by page through the API's page tokens; a new `key` starts it over. */
export function usePaged<T>(load: (pageToken?: string) => Promise<Page<T>>, key: string): Paged<T> {
  const first = useAsync(() => load(), [key]);
  const [more, setMore] = useState<(Page<T> & { key: string }) | null>(null);
  const [run, error, busy] = useAction();
  const current = more && more.key === key ? more : first.data;
  return {
    first,
    items: current?.items,
    next: current?.next,
    busy,
    error,
    loadMore: () => {
      if (!current?.next) return;
      const { items, next } = current;
      run(async () => {
        const page = await load(next);
        setMore({ items: [...items, ...page.items], next: page.next, key });
      });
    },
    reload: () => { setMore(null); first.reload(); },
  };
}

/** The "Load more" button of a paged listing, with the failure of its last load. */
export function LoadMore<T>({ paged }: { paged: Paged<T> }) {
  return (
    <>
      {paged.next && (
        <p>
          <button type="button" disabled={paged.busy} onClick={paged.loadMore}>{paged.busy ? 'Loading…' : 'Load more'}</button>
        </p>
      )}
      <ErrorMessage error={paged.error} />
    </>
  );
}

/** The width of `element`, kept up to date by a ResizeObserver (0 until it is laid out). */
export function useWidth(element: HTMLElement | null): number {
  const [width, setWidth] = useState(0);
  // Observed from before the first paint: the observer reports the width once the browser has laid
  // the page out, in the same frame. (Reading clientWidth here instead would force a layout per
  // element, which for a page of charts costs more than the frame it saves.)
  useLayoutEffect(() => {
    if (!element) return;
    const observer = new ResizeObserver(() => setWidth(Math.max(0, Math.floor(element.clientWidth))));
    observer.observe(element);
    return () => observer.disconnect();
  }, [element]);
  return width;
}
