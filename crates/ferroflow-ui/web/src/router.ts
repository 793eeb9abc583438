// Hash routing: `#/path?query`. Every view keeps its state (filter, sort, columns, selection, chart
// settings) in the query, so a copied link shows what its sender saw.

import { useEffect, useState } from 'preact/hooks';

export type Route = { path: string[]; query: URLSearchParams };

function current(): Route {
  const hash = window.location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = hash.split('?', 2);
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = () => setRoute(current());
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

export type QueryValues = Record<string, string | undefined | null>;

/** The link to `path` with `query` (empty values left out). */
export function href(path: string, query: QueryValues = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, value);
  }
  const text = params.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

/** Changes some of the current view's query values; `replace` keeps the history entry. */
export function updateQuery(changes: QueryValues, replace = true): void {
  const route = current();
  const query: QueryValues = Object.fromEntries(route.query.entries());
  Object.assign(query, changes);
  const target = href(`/${route.path.map(encodeURIComponent).join('/')}`, query);
  if (replace) window.history.replaceState(null, '', target);
  else window.history.pushState(null, '', target);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}
