// Who is signed in, and whether they may change what a page shows. With access control off everyone
// may; with it on, the server is asked once per page load for the user and per resource for the
// user's effective permission, so read-only users see no edit controls. The server checks every
// change regardless: this only keeps the UI from offering what would be refused.

import { api, type ResourceType, type User } from './api';
import { useAsync } from './components';

export type Session = { accessControl: false } | { accessControl: true; user: User };

let session: Promise<Session> | null = null;

export function loadSession(): Promise<Session> {
  if (!session) {
    session = (async (): Promise<Session> => {
      if (!(await api.accessControl())) return { accessControl: false };
      return { accessControl: true, user: await api.currentUser() };
    })();
    // A failure (the sign-in was cancelled, say) is asked again next time.
    session.catch(() => { session = null; });
  }
  return session;
}

export function useSession(): Session | undefined {
  return useAsync(loadSession, []).data;
}

const EDITING = new Set(['EDIT', 'MANAGE']);

/** Whether the session may edit a resource, from the grants the user record lists (no request). */
export function canEditFromGrants(s: Session | undefined, type: ResourceType, id: string): boolean {
  if (!s) return false;
  if (!s.accessControl || s.user.is_admin) return true;
  const grants = type === 'experiment'
    ? (s.user.experiment_permissions ?? []).filter((g) => g.experiment_id === id)
    : (s.user.registered_model_permissions ?? []).filter((g) => g.name === id);
  return grants.some((g) => EDITING.has(g.permission));
}

/** Whether the signed-in user may change the resource (false until known). */
export function useCanEdit(type: ResourceType, id: string): boolean {
  const state = useAsync(async () => {
    const s = await loadSession();
    if (!s.accessControl || s.user.is_admin) return true;
    return EDITING.has(await api.permission(s.user.username, type, id));
  }, [type, id]);
  return state.data === true;
}
