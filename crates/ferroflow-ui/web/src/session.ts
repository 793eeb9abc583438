// Who is signed in, and whether they may change what a page shows. With access control off everyone
// may; with it on, the server is asked once for the user (a 401 means the sign-in page is due) and
// the grants that apply to them, which are resolved here as the server resolves them, so read-only
// users see no edit controls. The server checks every change regardless: this only keeps the UI
// from offering what would be refused.

import { useEffect, useState } from 'preact/hooks';
import { accessControlTag, api, ApiError, SIGNED_OUT, type Grant, type ResourceType, type User } from './api';
import { useAsync } from './components';

/**
 * `user` is null while nobody is signed in; `grants` are the user's own and their groups', and
 * `defaultPermission` what applies where none does.
 */
export type Session =
  | { accessControl: false }
  | { accessControl: true; user: User | null; isAuditor: boolean; grants: Grant[]; defaultPermission: string };

let session: Promise<Session> | null = null;
/** The session once loaded, so that views rendered after that need not wait a frame for it. */
let settled: Session | undefined;
const listeners = new Set<() => void>();

export function loadSession(): Promise<Session> {
  if (!session) {
    settled = undefined;
    session = (async (): Promise<Session> => {
      const defaultPermission = await api.defaultPermission();
      if (defaultPermission === null) return { accessControl: false };
      try {
        // One after the other: signed out, the first call's 401 is the only one.
        const { user, isAuditor } = await api.currentUser();
        return { accessControl: true, user, isAuditor, grants: await api.currentGrants(), defaultPermission };
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          return { accessControl: true, user: null, isAuditor: false, grants: [], defaultPermission };
        }
        throw error;
      }
    })();
    const mine = session;
    mine.then((s) => { if (session === mine) settled = s; }, () => undefined);
    // A failure is asked again next time.
    session.catch(() => { session = null; });
  }
  return session;
}

/** Forgets the session (after signing in or out, or when a call met a 401) and tells every view. */
export function resetSession(): void {
  session = null;
  settled = undefined;
  for (const listener of listeners) listener();
}

window.addEventListener(SIGNED_OUT, () => {
  // Only a change of state: a 401 while signed out is the sign-in page's own business.
  session?.then((s) => s.accessControl && s.user && resetSession(), () => undefined);
});

export function useSession(): Session | undefined {
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const listener = () => setGeneration((g) => g + 1);
    listeners.add(listener);
    return () => { listeners.delete(listener); };
  }, []);
  const loaded = useAsync(loadSession, [generation]).data;
  return settled ?? loaded;
}

// A page that says access control is off needs no request to know the session.
if (accessControlTag() === 'off') {
  session = Promise.resolve({ accessControl: false });
  settled = { accessControl: false };
}

const EDITING = new Set(['EDIT', 'MANAGE']);

/** Levels from least to most; DENY is handled apart, as it beats every grant. */
const LEVELS = ['NO_PERMISSIONS', 'READ', 'USE', 'EDIT', 'MANAGE'];

/**
 * Whether the session may edit a resource, worked out from the session's grants as the server
 * does (no request): any DENY wins, else the highest grant on the resource or on `*`, else the
 * default.
 */
export function canEditFromGrants(s: Session | undefined, type: ResourceType, id: string): boolean {
  if (!s) return false;
  if (!s.accessControl) return true;
  if (!s.user) return false;
  if (s.user.is_admin) return true;
  const applying = s.grants
    .filter((g) => g.resource_type === type && (g.resource_pattern === id || g.resource_pattern === '*'))
    .map((g) => g.permission);
  if (applying.includes('DENY')) return false;
  const level = applying.length ? applying.reduce((a, b) => (LEVELS.indexOf(b) > LEVELS.indexOf(a) ? b : a)) : s.defaultPermission;
  return EDITING.has(level);
}

/** Whether the signed-in user may change the resource (false until known). */
export function useCanEdit(type: ResourceType, id: string): boolean {
  return canEditFromGrants(useSession(), type, id);
}
