// Who is signed in, and whether they may change what a page shows. With access control off everyone
// may; with it on, the server is asked once for the user (a 401 means the sign-in page is due) and
// per resource for the user's effective permission, so read-only users see no edit controls. The
// server checks every change regardless: this only keeps the UI from offering what would be refused.

import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, SIGNED_OUT, type ResourceType, type User } from './api';
import { useAsync } from './components';

/** `user` is null while nobody is signed in. */
export type Session = { accessControl: false } | { accessControl: true; user: User | null };

let session: Promise<Session> | null = null;
const listeners = new Set<() => void>();

export function loadSession(): Promise<Session> {
  if (!session) {
    session = (async (): Promise<Session> => {
      if (!(await api.accessControl())) return { accessControl: false };
      try {
        return { accessControl: true, user: await api.currentUser() };
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return { accessControl: true, user: null };
        throw error;
      }
    })();
    // A failure is asked again next time.
    session.catch(() => { session = null; });
  }
  return session;
}

/** Forgets the session (after signing in or out, or when a call met a 401) and tells every view. */
export function resetSession(): void {
  session = null;
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
  return useAsync(loadSession, [generation]).data;
}

const EDITING = new Set(['EDIT', 'MANAGE']);

/** Whether the session may edit a resource, from the grants the user record lists (no request). */
export function canEditFromGrants(s: Session | undefined, type: ResourceType, id: string): boolean {
  if (!s) return false;
  if (!s.accessControl) return true;
  if (!s.user) return false;
  if (s.user.is_admin) return true;
  const grants = type === 'experiment'
    ? (s.user.experiment_permissions ?? []).filter((g) => g.experiment_id === id)
    : (s.user.registered_model_permissions ?? []).filter((g) => g.name === id);
  return grants.some((g) => EDITING.has(g.permission));
}

/** Whether the signed-in user may change the resource (false until known). */
export function useCanEdit(type: ResourceType, id: string): boolean {
  const state = useAsync(async () => {
    const s = await loadSession();
    if (!s.accessControl) return true;
    if (!s.user) return false;
    if (s.user.is_admin) return true;
    return EDITING.has(await api.permission(s.user.username, type, id));
  }, [type, id]);
  return state.data === true;
}
