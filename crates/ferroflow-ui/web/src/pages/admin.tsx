// The administration section: users, groups, grants, API tokens and the audit log. The server checks
// every call (admin, or a member of `auditor` for the log), so a user without the right sees its
// refusal where the data would be.

import { useEffect, useState } from 'preact/hooks';
import { call, queryString, type Page, type ResourceType, type User } from '../api';
import { ErrorMessage, Loading, LoadMore, useAction, useAsync, usePaged, useQueryDraft } from '../components';
import { formatTime } from '../format';
import { href, updateQuery } from '../router';
import { loadSession } from '../session';
import './pages.css';
import './admin.css';

// ---------------------------------------------------------------------------------------------
// The admin endpoints

const mlflow = (endpoint: string) => `ajax-api/2.0/mlflow/${endpoint}`;
const mlflow3 = (endpoint: string) => `ajax-api/3.0/mlflow/${endpoint}`;
const ferroflow = (endpoint: string) => `ajax-api/2.0/ferroflow/${endpoint}`;

export type AdminUser = User & { id: number };
export type Group = { id: number; name: string; description?: string | null; members: string[] };
export type PrincipalKind = 'user' | 'group';
export type Grant = {
  resource_type: ResourceType;
  resource_id: string;
  principal_kind: PrincipalKind;
  principal: string;
  permission: string;
};
export type Token = {
  id: string;
  name: string;
  username: string;
  created_ms: number;
  expires_ms?: number | null;
  revoked_ms?: number | null;
};
export type AuditEvent = {
  seq: number;
  time_ms: number;
  actor?: string | null;
  auth_method?: string | null;
  token_id?: string | null;
  source?: string | null;
  user_agent?: string | null;
  action: string;
  method: string;
  path: string;
  resource_type?: string | null;
  resource_id?: string | null;
  status: number;
  error_code?: string | null;
  details?: string | null;
};
const AUDIT_FIELDS = ['actor', 'action', 'resource_type', 'resource_id', 'outcome', 'since', 'until'] as const;
/** Audit search filters as the server reads them (`since`/`until` in ms since the epoch). */
export type AuditFilters = Partial<Record<(typeof AUDIT_FIELDS)[number], string>>;

type Role = { name: string; permissions?: { resource_type: ResourceType; resource_pattern: string; permission: string }[] };

const AUDIT_PAGE = 100;

const listUsers = async () => (await call<{ users?: AdminUser[] }>('GET', mlflow('users/list'))).users ?? [];
const listTokens = async (username?: string) =>
  (await call<{ tokens?: Token[] }>('GET', ferroflow('tokens') + queryString({ username }))).tokens ?? [];
const grantKey = (g: Grant) => ({
  principal_kind: g.principal_kind, principal: g.principal, resource_type: g.resource_type, resource_id: g.resource_id,
});

export const adminApi = {
  listUsers,
  createUser: (username: string, password: string) => call<{ user: AdminUser }>('POST', mlflow('users/create'), { username, password }),
  setAdmin: (username: string, isAdmin: boolean) => call('PATCH', mlflow('users/update-admin'), { username, is_admin: isAdmin }),
  /** `currentPassword` is needed for one's own password when signed in with a session or a token. */
  setPassword: (username: string, password: string, currentPassword?: string) =>
    call('PATCH', mlflow('users/update-password'), { username, password, current_password: currentPassword }),
  deleteUser: (username: string) => call('DELETE', mlflow('users/delete'), { username }),

  listGroups: async () => (await call<{ groups?: Group[] }>('GET', ferroflow('groups'))).groups ?? [],
  createGroup: (name: string, description?: string) =>
    call<{ group: Group }>('POST', ferroflow('groups'), { name, description: description || undefined }),
  deleteGroup: (name: string) => call('POST', ferroflow('groups/delete'), { name }),
  addMember: (group: string, username: string) => call('POST', ferroflow('groups/members/add'), { group, username }),
  removeMember: (group: string, username: string) => call('POST', ferroflow('groups/members/remove'), { group, username }),

  /** Who holds what on one resource, the wildcard (`*`) grants of its type included. */
  resourceGrants: async (resourceType: ResourceType, resourceId: string) =>
    (await call<{ grants?: Grant[] }>('GET', ferroflow('grants') + queryString({ resource_type: resourceType, resource_id: resourceId }))).grants ?? [],
  /**
   * Every grant. The server lists grants per resource only, so this joins the users' own grants
   * (users/list) and the groups' (roles/list, where a role is a group).
   */
  allGrants: async (): Promise<Grant[]> => {
    const [users, roles] = await Promise.all([listUsers(), call<{ roles?: Role[] }>('GET', mlflow3('roles/list'))]);
    const grants: Grant[] = [];
    for (const u of users) {
      for (const p of u.experiment_permissions ?? []) {
        grants.push({ resource_type: 'experiment', resource_id: p.experiment_id, principal_kind: 'user', principal: u.username, permission: p.permission });
      }
      for (const p of u.registered_model_permissions ?? []) {
        grants.push({ resource_type: 'registered_model', resource_id: p.name, principal_kind: 'user', principal: u.username, permission: p.permission });
      }
    }
    for (const r of roles.roles ?? []) {
      for (const p of r.permissions ?? []) {
        grants.push({ resource_type: p.resource_type, resource_id: p.resource_pattern, principal_kind: 'group', principal: r.name, permission: p.permission });
      }
    }
    return grants;
  },
  /** Grants `permission`, replacing the principal's grant on the resource if there is one. */
  putGrant: (grant: Grant) => call('POST', ferroflow('grants'), { ...grantKey(grant), permission: grant.permission }),
  deleteGrant: (grant: Grant) => call('POST', ferroflow('grants/delete'), grantKey(grant)),

  /** The caller's tokens, or (admins) `username`'s. */
  listTokens,
  /** Every user's tokens: the server lists one user's at a time. */
  allTokens: async () => {
    const lists = await Promise.all((await listUsers()).map((u) => listTokens(u.username)));
    return lists.flat().sort((a, b) => b.created_ms - a.created_ms);
  },
  /** A new token; its secret is in this answer only. */
  createToken: (name: string, expiresInDays?: number, username?: string) =>
    call<{ token: string; token_info: Token }>('POST', ferroflow('tokens'), { name, expires_in_days: expiresInDays, username: username || undefined }),
  revokeToken: (id: string) => call('POST', ferroflow('tokens/revoke'), { id }),

  searchAudit: async (filters: AuditFilters, oldestFirst: boolean, pageToken?: string): Promise<Page<AuditEvent>> => {
    const r = await call<{ events?: AuditEvent[]; next_page_token?: string }>('GET', ferroflow('audit/search')
      + queryString({ ...filters, order: oldestFirst ? 'asc' : 'desc', max_results: AUDIT_PAGE, page_token: pageToken }));
    return { items: r.events ?? [], next: r.next_page_token };
  },
};

// ---------------------------------------------------------------------------------------------
// The page and its tabs

const TABS = [
  ['users', 'Users'],
  ['groups', 'Groups'],
  ['grants', 'Grants'],
  ['tokens', 'API tokens'],
  ['audit', 'Audit log'],
] as const;

/** The administration section; `auditOnly` (members of the `auditor` group) shows the audit log alone. */
export function AdminPage({ tab, query, auditOnly }: { tab: string | undefined; query: URLSearchParams; auditOnly: boolean }) {
  const current = tab ?? (auditOnly ? 'audit' : 'users');
  if (auditOnly && current !== 'audit') {
    return <p class="muted">Only admins manage users, groups, grants and tokens: see the <a href={href('/admin/audit')}>audit log</a>.</p>;
  }
  return (
    <section>
      <h1>{auditOnly ? 'Audit log' : 'Administration'}</h1>
      <nav class="tabs" aria-label="Administration sections">
        {TABS.filter(([id]) => !auditOnly || id === 'audit').map(([id, label]) => (
          <a key={id} href={href(`/admin/${id}`)} aria-current={id === current ? 'page' : undefined}>{label}</a>
        ))}
      </nav>
      {current === 'users' ? <UsersTab query={query} />
        : current === 'groups' ? <GroupsTab />
        : current === 'grants' ? <GrantsTab query={query} />
        : current === 'tokens' ? <TokensTab query={query} />
        : current === 'audit' ? <AuditTab query={query} />
        : <p class="muted">There is no administration section “{current}”.</p>}
    </section>
  );
}

/** Usernames to suggest in username inputs (none when the list cannot be read). */
function UsernameList({ id, users }: { id: string; users?: AdminUser[] }) {
  return <datalist id={id}>{(users ?? []).map((u) => <option key={u.username} value={u.username} />)}</datalist>;
}

const grantsLink = (kind: PrincipalKind, principal: string) => href('/admin/grants', { principal_kind: kind, principal });

// ---------------------------------------------------------------------------------------------
// Users

function UsersTab({ query }: { query: URLSearchParams }) {
  const search = query.get('q') ?? '';
  const [draft, setDraft, commitDraft] = useQueryDraft('q', search);
  const state = useAsync(async () => {
    // Knowing who is signed in only guards their own row; the list works without it.
    const [users, session] = await Promise.all([listUsers(), loadSession()]);
    return { users, me: session.accessControl ? session.user?.username : undefined };
  }, []);
  return (
    <>
      <h2>Users</h2>
      <form class="toolbar" role="search" onSubmit={(e) => { e.preventDefault(); commitDraft(); }}>
        <input type="search" class="grow" placeholder="Search by username" aria-label="Search users by username" value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)} />
        <button type="submit">Search</button>
      </form>
      <Loading state={state} what="users">
        {({ users, me }) => {
          const needle = search.toLowerCase();
          const shown = users.filter((u) => u.username.toLowerCase().includes(needle))
            .sort((a, b) => a.username.localeCompare(b.username));
          return (
            <table class="list" aria-label="Users">
              <thead>
                <tr><th scope="col">Username</th><th scope="col">Admin</th><th scope="col">Grants</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
              </thead>
              <tbody>
                {shown.length === 0 && <tr><td colSpan={4} class="muted">{search ? `No users match “${search}”.` : 'No users.'}</td></tr>}
                {shown.map((u) => <UserRow key={u.username} user={u} own={u.username === me} onChange={state.reload} />)}
              </tbody>
            </table>
          );
        }}
      </Loading>
      <h2>New user</h2>
      <CreateUser onCreated={state.reload} />
    </>
  );
}

function UserRow({ user, own, onChange }: { user: AdminUser; own: boolean; onChange: () => void }) {
  const [run, error, busy] = useAction();
  const [password, setPassword] = useState(false);
  // users/list names only the user's own grants, not those they hold through groups.
  const grants = (user.experiment_permissions?.length ?? 0) + (user.registered_model_permissions?.length ?? 0);
  return (
    <>
      <tr>
        <td>{user.username}{own && <span class="muted"> (you)</span>}<ErrorMessage error={error} /></td>
        <td>
          <label>
            <input type="checkbox" checked={user.is_admin} disabled={busy} aria-label={`Admin: ${user.username}`}
              onChange={async (e) => {
                const next = e.currentTarget.checked;
                if (own && !next && !window.confirm('Remove your own admin rights? You will lose access to this page.')) {
                  e.currentTarget.checked = true;
                  return;
                }
                if (await run(() => adminApi.setAdmin(user.username, next))) onChange();
              }} />
            {' '}{user.is_admin ? 'Yes' : 'No'}
          </label>
        </td>
        <td><a href={grantsLink('user', user.username)} aria-label={`Grants of ${user.username}: ${grants}`}>{grants}</a></td>
        <td class="actions">
          <button type="button" aria-label={`Set the password of ${user.username}`} aria-expanded={password}
            onClick={() => setPassword(!password)}>Set password</button>
          {!own && (
            <button type="button" aria-label={`Delete user ${user.username}`} disabled={busy} onClick={async () => {
              if (window.confirm(`Delete the user “${user.username}”? Their grants, group memberships and tokens are deleted with them.`)
                && (await run(() => adminApi.deleteUser(user.username)))) onChange();
            }}>Delete</button>
          )}
        </td>
      </tr>
      {password && (
        <tr><td colSpan={4}><PasswordForm username={user.username} own={own} onClose={() => setPassword(false)} /></td></tr>
      )}
    </>
  );
}

function PasswordForm({ username, own, onClose }: { username: string; own: boolean; onClose: () => void }) {
  const [password, setPassword] = useState('');
  const [current, setCurrent] = useState('');
  const [saved, setSaved] = useState(false);
  const [run, error, busy] = useAction();
  return (
    <form class="inline" aria-label={`New password for ${username}`} onSubmit={async (e) => {
      e.preventDefault();
      // The server asks for one's own current password unless signed in with HTTP Basic.
      if (await run(() => adminApi.setPassword(username, password, own ? current : undefined))) {
        setPassword('');
        setCurrent('');
        setSaved(true);
      }
    }}>
      {own && (
        <label>Current password{' '}
          <input type="password" autocomplete="current-password" required value={current}
            onInput={(e) => { setCurrent(e.currentTarget.value); setSaved(false); }} />
        </label>
      )}
      <label>New password{' '}
        <input type="password" autocomplete="new-password" required autoFocus value={password}
          onInput={(e) => { setPassword(e.currentTarget.value); setSaved(false); }} />
      </label>
      <button type="submit" class="primary" disabled={busy || !password || (own && !current)}>Save password</button>
      <button type="button" onClick={onClose}>Close</button>
      {saved && <span class="muted" role="status">Password changed</span>}
      <ErrorMessage error={error} />
    </form>
  );
}

function CreateUser({ onCreated }: { onCreated: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [created, setCreated] = useState('');
  const [run, error, busy] = useAction();
  return (
    <form class="admin-form" aria-label="New user" onSubmit={async (e) => {
      e.preventDefault();
      const name = username.trim();
      if (await run(() => adminApi.createUser(name, password))) {
        setUsername('');
        setPassword('');
        setCreated(name);
        onCreated();
      }
    }}>
      <div class="inline">
        <label>Username <input required autocomplete="off" value={username} onInput={(e) => { setUsername(e.currentTarget.value); setCreated(''); }} /></label>
        <label>Password <input type="password" required autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} /></label>
        <button type="submit" class="primary" disabled={busy || !username.trim() || !password}>Create user</button>
        {created && <span class="muted" role="status">Created user {created}</span>}
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// Groups

function GroupsTab() {
  const state = useAsync(() => adminApi.listGroups(), []);
  const users = useAsync(listUsers, []);
  return (
    <>
      <h2>Groups</h2>
      <p class="muted">Grants to a group apply to each of its members. Members of the group “auditor” may read the audit log.</p>
      <UsernameList id="admin-group-usernames" users={users.data} />
      <Loading state={state} what="groups">
        {(groups) => (
          <table class="list" aria-label="Groups">
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Members</th><th scope="col">Grants</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {groups.length === 0 && <tr><td colSpan={5} class="muted">No groups yet.</td></tr>}
              {[...groups].sort((a, b) => a.name.localeCompare(b.name)).map((g) => <GroupRow key={g.name} group={g} onChange={state.reload} />)}
            </tbody>
          </table>
        )}
      </Loading>
      <h2>New group</h2>
      <CreateGroup onCreated={state.reload} />
    </>
  );
}

function GroupRow({ group, onChange }: { group: Group; onChange: () => void }) {
  const [member, setMember] = useState('');
  const [run, error, busy] = useAction();
  const after = async (action: () => Promise<unknown>) => { if (await run(action)) onChange(); };
  return (
    <tr>
      <td>{group.name}</td>
      <td>{group.description ? <span class="value">{group.description}</span> : <span class="muted">—</span>}</td>
      <td>
        <ul class="members" aria-label={`Members of ${group.name}`}>
          {group.members.length === 0 && <li class="muted">No members</li>}
          {group.members.map((m) => (
            <li key={m}>
              <span class="badge">{m}</span>{' '}
              <button type="button" aria-label={`Remove ${m} from ${group.name}`} disabled={busy}
                onClick={() => after(() => adminApi.removeMember(group.name, m))}>Remove</button>
            </li>
          ))}
        </ul>
        <form class="inline" onSubmit={async (e) => {
          e.preventDefault();
          const name = member.trim();
          if (name && (await run(() => adminApi.addMember(group.name, name)))) { setMember(''); onChange(); }
        }}>
          <input aria-label={`Username to add to ${group.name}`} placeholder="username" list="admin-group-usernames" value={member}
            onInput={(e) => setMember(e.currentTarget.value)} />
          <button type="submit" disabled={busy || !member.trim()}>Add member</button>
        </form>
        <ErrorMessage error={error} />
      </td>
      <td><a href={grantsLink('group', group.name)}>Grants of {group.name}</a></td>
      <td class="actions">
        <button type="button" aria-label={`Delete group ${group.name}`} disabled={busy} onClick={() => {
          if (window.confirm(`Delete the group “${group.name}”? Its grants and memberships are deleted with it.`)) {
            after(() => adminApi.deleteGroup(group.name));
          }
        }}>Delete</button>
      </td>
    </tr>
  );
}

function CreateGroup({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [run, error, busy] = useAction();
  return (
    <form class="admin-form" aria-label="New group" onSubmit={async (e) => {
      e.preventDefault();
      if (await run(() => adminApi.createGroup(name.trim(), description.trim()))) {
        setName('');
        setDescription('');
        onCreated();
      }
    }}>
      <div class="inline">
        <label>Group name <input required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
        <label>Description <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} /></label>
        <button type="submit" class="primary" disabled={busy || !name.trim()}>Create group</button>
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// Grants

const RESOURCE_TYPES: [ResourceType, string][] = [['experiment', 'Experiment'], ['registered_model', 'Registered model']];
// As the server parses them; DENY vetoes every other grant that applies.
const PERMISSIONS = ['READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS', 'DENY'];
const GRANT_FILTERS = ['resource_type', 'resource_id', 'principal_kind', 'principal'] as const;
type GrantFilters = Record<(typeof GRANT_FILTERS)[number], string>;

const resourceLabel = (type: string) => RESOURCE_TYPES.find(([t]) => t === type)?.[1] ?? type;

function ResourceLink({ type, id }: { type: ResourceType; id: string }) {
  if (id === '*') return <span title="Every resource of this type"><code>*</code> (all)</span>;
  const path = type === 'experiment' ? `/experiments/${encodeURIComponent(id)}` : `/models/${encodeURIComponent(id)}`;
  return <a href={href(path)}>{id}</a>;
}

function GrantsTab({ query }: { query: URLSearchParams }) {
  const filters = Object.fromEntries(GRANT_FILTERS.map((k) => [k, query.get(k) ?? ''])) as GrantFilters;
  const type = filters.resource_type as ResourceType | '';
  // With a resource named the server answers who holds what on it (wildcards included); otherwise
  // every grant is listed and filtered here.
  const one = type !== '' && filters.resource_id !== '';
  const state = useAsync(
    () => (one ? adminApi.resourceGrants(type, filters.resource_id) : adminApi.allGrants()),
    [one ? `${type}\n${filters.resource_id}` : ''],
  );
  const [draft, setDraft] = useState(filters);
  const filterKey = GRANT_FILTERS.map((k) => filters[k]).join('\n');
  useEffect(() => setDraft(filters), [filterKey]);
  const set = (key: keyof GrantFilters) => (e: { currentTarget: HTMLInputElement | HTMLSelectElement }) =>
    setDraft({ ...draft, [key]: e.currentTarget.value });
  const matches = (g: Grant) => (!type || g.resource_type === type)
    && (one || !filters.resource_id || g.resource_id === filters.resource_id)
    && (!filters.principal_kind || g.principal_kind === filters.principal_kind)
    && (!filters.principal || g.principal === filters.principal);
  const filtered = GRANT_FILTERS.some((k) => filters[k]);

  return (
    <>
      <h2>Grants</h2>
      <form class="toolbar" role="search" aria-label="Filter grants" onSubmit={(e) => {
        e.preventDefault();
        updateQuery(Object.fromEntries(GRANT_FILTERS.map((k) => [k, draft[k].trim() || null])));
      }}>
        <label>Resource type{' '}
          <select value={draft.resource_type} onChange={set('resource_type')}>
            <option value="">Any</option>
            {RESOURCE_TYPES.map(([t, label]) => <option key={t} value={t}>{label}</option>)}
          </select>
        </label>
        <label>Resource <input value={draft.resource_id} placeholder="id, name or *" onInput={set('resource_id')} /></label>
        <label>Principal kind{' '}
          <select value={draft.principal_kind} onChange={set('principal_kind')}>
            <option value="">Any</option>
            <option value="user">User</option>
            <option value="group">Group</option>
          </select>
        </label>
        <label>Principal <input value={draft.principal} placeholder="username or group" onInput={set('principal')} /></label>
        <button type="submit">Filter</button>
        {filtered && <button type="button" onClick={() => updateQuery(Object.fromEntries(GRANT_FILTERS.map((k) => [k, null])))}>Clear filters</button>}
      </form>
      {one && (
        <p class="muted">Grants on {resourceLabel(type)} {filters.resource_id}, with the grants on every {resourceLabel(type).toLowerCase()} (<code>*</code>) that apply to it too.</p>
      )}
      <Loading state={state} what="grants">
        {(grants) => {
          const shown = grants.filter(matches).sort((a, b) =>
            a.resource_type.localeCompare(b.resource_type) || a.resource_id.localeCompare(b.resource_id)
            || a.principal_kind.localeCompare(b.principal_kind) || a.principal.localeCompare(b.principal));
          return (
            <table class="list" aria-label="Grants">
              <thead>
                <tr>
                  <th scope="col">Principal kind</th><th scope="col">Principal</th><th scope="col">Resource type</th>
                  <th scope="col">Resource</th><th scope="col">Permission</th><th scope="col"><span class="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {shown.length === 0 && <tr><td colSpan={6} class="muted">{filtered ? 'No grants match the filters.' : 'No grants yet.'}</td></tr>}
                {shown.map((g) => (
                  <GrantRow key={`${g.resource_type}\n${g.resource_id}\n${g.principal_kind}\n${g.principal}`} grant={g} onChange={state.reload} />
                ))}
              </tbody>
            </table>
          );
        }}
      </Loading>
      <h2>New grant</h2>
      <AddGrant initial={filters} onAdded={state.reload} />
    </>
  );
}

function GrantRow({ grant, onChange }: { grant: Grant; onChange: () => void }) {
  const [run, error, busy] = useAction();
  const what = `${grant.principal_kind} ${grant.principal} on ${resourceLabel(grant.resource_type).toLowerCase()} ${grant.resource_id}`;
  return (
    <tr>
      <td>{grant.principal_kind === 'group' ? 'Group' : 'User'}</td>
      <td><a href={grantsLink(grant.principal_kind, grant.principal)}>{grant.principal}</a></td>
      <td>{resourceLabel(grant.resource_type)}</td>
      <td><ResourceLink type={grant.resource_type} id={grant.resource_id} /></td>
      <td><span class="badge">{grant.permission}</span></td>
      <td class="actions">
        <button type="button" aria-label={`Delete the grant of ${what}`} disabled={busy} onClick={async () => {
          if (window.confirm(`Delete the ${grant.permission} grant of ${what}?`) && (await run(() => adminApi.deleteGrant(grant)))) onChange();
        }}>Delete</button>
        <ErrorMessage error={error} />
      </td>
    </tr>
  );
}

function AddGrant({ initial, onAdded }: { initial: GrantFilters; onAdded: () => void }) {
  const [kind, setKind] = useState<PrincipalKind>(initial.principal_kind === 'group' ? 'group' : 'user');
  const [principal, setPrincipal] = useState(initial.principal);
  const [type, setType] = useState<ResourceType>(initial.resource_type === 'registered_model' ? 'registered_model' : 'experiment');
  const [id, setId] = useState(initial.resource_id);
  const [permission, setPermission] = useState('READ');
  const [run, error, busy] = useAction();
  return (
    <form class="admin-form" aria-label="New grant" onSubmit={async (e) => {
      e.preventDefault();
      const grant: Grant = { principal_kind: kind, principal: principal.trim(), resource_type: type, resource_id: id.trim(), permission };
      if (await run(() => adminApi.putGrant(grant))) onAdded();
    }}>
      <div class="inline">
        <label>Principal kind{' '}
          <select value={kind} onChange={(e) => setKind(e.currentTarget.value as PrincipalKind)}>
            <option value="user">User</option>
            <option value="group">Group</option>
          </select>
        </label>
        <label>{kind === 'group' ? 'Group name' : 'Username'} <input required value={principal} onInput={(e) => setPrincipal(e.currentTarget.value)} /></label>
        <label>Resource type{' '}
          <select value={type} onChange={(e) => setType(e.currentTarget.value as ResourceType)}>
            {RESOURCE_TYPES.map(([t, label]) => <option key={t} value={t}>{label}</option>)}
          </select>
        </label>
        <label>{type === 'experiment' ? 'Experiment id' : 'Model name'}{' '}
          <input required value={id} placeholder="or * for all" onInput={(e) => setId(e.currentTarget.value)} />
        </label>
        <label>Permission{' '}
          <select value={permission} onChange={(e) => setPermission(e.currentTarget.value)}>
            {PERMISSIONS.map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </label>
        <button type="submit" class="primary" disabled={busy || !principal.trim() || !id.trim()}>Grant</button>
      </div>
      <p class="muted">A grant replaces the principal's earlier grant on the same resource.</p>
      <ErrorMessage error={error} />
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// API tokens

/** `user` in the query: empty for the signed-in user's tokens, `*` for everyone's, else a username. */
const ALL_USERS = '*';

function TokensTab({ query }: { query: URLSearchParams }) {
  const owner = query.get('user') ?? '';
  const activeOnly = query.get('active') === '1';
  const users = useAsync(listUsers, []);
  const tokens = useAsync(() => (owner === ALL_USERS ? adminApi.allTokens() : listTokens(owner || undefined)), [owner]);
  const names = (users.data ?? []).map((u) => u.username).sort();
  if (owner && owner !== ALL_USERS && !names.includes(owner)) names.unshift(owner);
  const now = Date.now();
  return (
    <>
      <h2>API tokens</h2>
      <UsernameList id="admin-token-usernames" users={users.data} />
      <div class="toolbar">
        <label>Owner{' '}
          <select value={owner} onChange={(e) => updateQuery({ user: e.currentTarget.value || null })}>
            <option value="">You</option>
            <option value={ALL_USERS}>All users</option>
            {names.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <label>
          <input type="checkbox" checked={activeOnly} onChange={(e) => updateQuery({ active: e.currentTarget.checked ? '1' : null })} />{' '}
          Hide revoked and expired tokens
        </label>
      </div>
      <ErrorMessage error={users.error} />
      <Loading state={tokens} what="tokens">
        {(list) => {
          const shown = activeOnly ? list.filter((t) => !t.revoked_ms && !(t.expires_ms && t.expires_ms <= now)) : list;
          return (
            <table class="list" aria-label="API tokens">
              <thead>
                <tr>
                  <th scope="col">ID</th><th scope="col">Owner</th><th scope="col">Name</th><th scope="col">Created</th>
                  <th scope="col">Expires</th><th scope="col">Revoked</th><th scope="col"><span class="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {shown.length === 0 && <tr><td colSpan={7} class="muted">No tokens.</td></tr>}
                {shown.map((t) => <TokenRow key={t.id} token={t} now={now} onChange={tokens.reload} />)}
              </tbody>
            </table>
          );
        }}
      </Loading>
      <h2>New token</h2>
      <CreateToken defaultOwner={owner === ALL_USERS ? '' : owner} onCreated={tokens.reload} />
    </>
  );
}

function TokenRow({ token, now, onChange }: { token: Token; now: number; onChange: () => void }) {
  const [run, error, busy] = useAction();
  const expired = !!token.expires_ms && token.expires_ms <= now;
  return (
    <tr class={token.revoked_ms || expired ? 'deleted' : undefined}>
      <td><code>{token.id}</code></td>
      <td>{token.username}</td>
      <td>{token.name}</td>
      <td>{formatTime(token.created_ms)}</td>
      <td>{token.expires_ms ? <>{formatTime(token.expires_ms)}{expired && <> <span class="badge">expired</span></>}</> : <span class="muted">Never</span>}</td>
      <td>{token.revoked_ms ? formatTime(token.revoked_ms) : <span class="muted">—</span>}</td>
      <td class="actions">
        {!token.revoked_ms && (
          <button type="button" aria-label={`Revoke token ${token.name} (${token.id}) of ${token.username}`} disabled={busy} onClick={async () => {
            const note = token.name === 'web session' ? ' It is a web session: its browser is signed out.' : ' Clients using it are refused from now on.';
            if (window.confirm(`Revoke the token “${token.name}” of ${token.username}?${note}`)
              && (await run(() => adminApi.revokeToken(token.id)))) onChange();
          }}>Revoke</button>
        )}
        <ErrorMessage error={error} />
      </td>
    </tr>
  );
}

function CreateToken({ defaultOwner, onCreated }: { defaultOwner: string; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [owner, setOwner] = useState(defaultOwner);
  const [created, setCreated] = useState<{ token: string; token_info: Token } | null>(null);
  const [run, error, busy] = useAction();
  useEffect(() => setOwner(defaultOwner), [defaultOwner]);
  return (
    <>
      <form class="admin-form" aria-label="New token" onSubmit={async (e) => {
        e.preventDefault();
        const expires = days.trim() ? Number(days) : undefined;
        if (await run(async () => setCreated(await adminApi.createToken(name.trim(), expires, owner.trim())))) {
          setName('');
          setDays('');
          onCreated();
        }
      }}>
        <div class="inline">
          <label>Token name <input required value={name} placeholder="ci-pipeline" onInput={(e) => setName(e.currentTarget.value)} /></label>
          <label>Expires in days{' '}
            <input type="number" min="0" max="3650" step="any" class="days" value={days} placeholder="never"
              onInput={(e) => setDays(e.currentTarget.value)} />
          </label>
          <label>For user{' '}
            <input value={owner} placeholder="yourself" list="admin-token-usernames" onInput={(e) => setOwner(e.currentTarget.value)} />
          </label>
          <button type="submit" class="primary" disabled={busy || !name.trim()}>Create token</button>
        </div>
        <ErrorMessage error={error} />
      </form>
      {created && <NewTokenSecret created={created} onDone={() => setCreated(null)} />}
    </>
  );
}

/** The new token's secret, which the server never returns again. */
function NewTokenSecret({ created, onDone }: { created: { token: string; token_info: Token }; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const [field, setField] = useState<HTMLInputElement | null>(null);
  const info = created.token_info;
  const copy = async () => {
    field?.select();
    try {
      // The clipboard API needs a secure context; elsewhere the selected text is copied by hand.
      await navigator.clipboard.writeText(created.token);
      setCopied('Copied');
    } catch {
      setCopied('Press Ctrl+C (⌘C) to copy the selected token');
    }
  };
  return (
    <div class="dialog token-secret" role="region" aria-label="New token">
      <p role="status">
        Created the token “{info.name}” ({info.id}) for {info.username}
        {info.expires_ms ? `, valid until ${formatTime(info.expires_ms)}` : ''}. <strong>Copy it now: it is not shown again.</strong>
      </p>
      <div class="inline">
        <input ref={setField} readOnly class="secret" aria-label="New token secret" value={created.token}
          onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={copy}>Copy</button>
        <button type="button" onClick={onDone}>Done</button>
        {copied && <span class="muted" role="status">{copied}</span>}
      </div>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Audit log

/** ms since the epoch as a datetime-local input's value (local time, to the second). */
function toLocalInput(ms: string): string {
  if (!ms) return '';
  const date = new Date(Number(ms));
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A datetime-local value as ms; `end` takes the last millisecond of its second (`until` is inclusive). */
function fromLocalInput(text: string, end: boolean): string | null {
  if (!text) return null;
  const ms = new Date(text).getTime();
  if (Number.isNaN(ms)) return null;
  return String(end ? ms + 999 : ms);
}

function AuditTab({ query }: { query: URLSearchParams }) {
  const filters: AuditFilters = Object.fromEntries(AUDIT_FIELDS.map((k) => [k, query.get(k) ?? '']));
  // Newest first unless the link says otherwise.
  const oldestFirst = query.get('order') === 'asc';
  const key = [...AUDIT_FIELDS.map((k) => filters[k]), oldestFirst].join('\n');
  const events = usePaged((pageToken) => adminApi.searchAudit(filters, oldestFirst, pageToken), key);
  const fromQuery = () => ({ ...filters, since: toLocalInput(filters.since ?? ''), until: toLocalInput(filters.until ?? '') });
  const [draft, setDraft] = useState<AuditFilters>(fromQuery);
  useEffect(() => setDraft(fromQuery()), [key]);
  const set = (field: keyof AuditFilters) => (e: { currentTarget: HTMLInputElement }) => setDraft({ ...draft, [field]: e.currentTarget.value });
  const text = (field: keyof AuditFilters, label: string, extra: Record<string, string> = {}) => (
    <label>{label} <input value={draft[field] ?? ''} onInput={set(field)} {...extra} /></label>
  );
  const filtered = AUDIT_FIELDS.some((k) => filters[k]);
  /** The link that narrows the current search to one value. */
  const narrow = (changes: AuditFilters) => href('/admin/audit', { ...filters, ...changes, order: oldestFirst ? 'asc' : null });

  return (
    <>
      <h2>Audit log</h2>
      <form class="toolbar audit-filters" role="search" aria-label="Filter audit events" onSubmit={(e) => {
        e.preventDefault();
        updateQuery({
          actor: draft.actor?.trim() || null,
          action: draft.action?.trim() || null,
          resource_type: draft.resource_type?.trim() || null,
          resource_id: draft.resource_id?.trim() || null,
          outcome: draft.outcome?.trim() || null,
          since: fromLocalInput(draft.since ?? '', false),
          until: fromLocalInput(draft.until ?? '', true),
        });
      }}>
        {text('actor', 'Actor', { placeholder: 'username' })}
        {text('action', 'Action', { placeholder: 'CreateRun' })}
        {text('resource_type', 'Resource type', { list: 'admin-audit-resource-types', placeholder: 'experiment' })}
        {text('resource_id', 'Resource')}
        {text('outcome', 'Outcome', { list: 'admin-audit-outcomes', placeholder: 'success, failure or a status' })}
        <label>Since <input type="datetime-local" step="1" value={draft.since ?? ''} onInput={set('since')} /></label>
        <label>Until <input type="datetime-local" step="1" value={draft.until ?? ''} onInput={set('until')} /></label>
        <button type="submit">Search</button>
        {filtered && <button type="button" onClick={() => updateQuery(Object.fromEntries(AUDIT_FIELDS.map((k) => [k, null])))}>Clear filters</button>}
        <datalist id="admin-audit-resource-types">
          {['experiment', 'run', 'logged_model', 'registered_model', 'user', 'group', 'token'].map((t) => <option key={t} value={t} />)}
        </datalist>
        <datalist id="admin-audit-outcomes">
          <option value="success" /><option value="failure" /><option value="401" /><option value="403" />
        </datalist>
      </form>
      <div class="toolbar">
        <label>Order{' '}
          <select value={oldestFirst ? 'asc' : 'desc'} onChange={(e) => updateQuery({ order: e.currentTarget.value === 'asc' ? 'asc' : null })}>
            <option value="desc">Newest first</option>
            <option value="asc">Oldest first</option>
          </select>
        </label>
        <span class="muted">in the order the events were sealed into the log</span>
      </div>
      <Loading state={events.first} what="audit events">
        {() => (
          <>
            <table class="list audit" aria-label="Audit events">
              <thead>
                <tr>
                  <th scope="col">Seq</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Auth</th>
                  <th scope="col">Action</th><th scope="col">Request</th><th scope="col">Resource</th><th scope="col">Status</th>
                  <th scope="col">Source</th><th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {events.items!.length === 0 && (
                  <tr><td colSpan={10} class="muted">{filtered ? 'No events match the filters.' : 'No events yet.'}</td></tr>
                )}
                {events.items!.map((ev) => (
                  <tr key={ev.seq}>
                    <td class="num">{ev.seq}</td>
                    <td class="nowrap">{formatTime(ev.time_ms)}</td>
                    <td>{ev.actor ? <a href={narrow({ actor: ev.actor })}>{ev.actor}</a> : <span class="muted">anonymous</span>}</td>
                    <td title={ev.token_id ? `token ${ev.token_id}` : undefined}>{ev.auth_method ?? <span class="muted">—</span>}</td>
                    <td><a href={narrow({ action: ev.action })}>{ev.action}</a></td>
                    <td><code>{ev.method} {ev.path}</code></td>
                    <td>
                      {ev.resource_type
                        ? <a href={narrow({ resource_type: ev.resource_type, resource_id: ev.resource_id ?? '' })}>{ev.resource_type}{ev.resource_id ? `: ${ev.resource_id}` : ''}</a>
                        : <span class="muted">—</span>}
                    </td>
                    <td>
                      <span class={`badge ${ev.status >= 400 ? 'outcome-failure' : 'outcome-success'}`}>{ev.status}</span>
                      {ev.error_code && <> <span class="muted">{ev.error_code}</span></>}
                    </td>
                    <td>{ev.source ?? <span class="muted">—</span>}</td>
                    <td><EventDetails event={ev} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
            <LoadMore paged={events} />
          </>
        )}
      </Loading>
    </>
  );
}

function EventDetails({ event }: { event: AuditEvent }) {
  if (!event.details && !event.user_agent && !event.token_id) return <span class="muted">—</span>;
  let details = event.details ?? '';
  try {
    details = details ? JSON.stringify(JSON.parse(details), null, 2) : '';
  } catch {
    // Shown as stored.
  }
  return (
    <details>
      <summary>Show<span class="sr-only"> details of event {event.seq}</span></summary>
      {event.token_id && <p>Token <code>{event.token_id}</code></p>}
      {event.user_agent && <p>User agent: {event.user_agent}</p>}
      {details && <pre>{details}</pre>}
    </details>
  );
}
