import { render } from 'preact';
import './style.css';
import { ErrorMessage, NotFound, useAsync } from './components';
import { useRoute } from './router';
import { api } from './api';
import { resetSession, useSession } from './session';
import { SignInPage } from './pages/signin';
import { ExperimentsPage } from './pages/experiments';
import { RunsPage } from './pages/runs';
import { RunPage } from './pages/run';
import { ComparePage } from './pages/compare';
import { ModelsPage, ModelPage, VersionPage } from './pages/models';

/** The administration pages, loaded apart: most visitors never open them. */
function AdminPage(props: { tab: string | undefined; query: URLSearchParams; auditOnly: boolean }) {
  const { data, error } = useAsync(() => import('./pages/admin'), []);
  if (error) return <ErrorMessage error={error} />;
  return data ? <data.AdminPage {...props} /> : null;
}

function Page({ isAdmin }: { isAdmin: boolean }) {
  const route = useRoute();
  const [first, second, third, fourth] = route.path;
  switch (first) {
    case undefined:
    case 'experiments':
      if (second === undefined) return <ExperimentsPage query={route.query} />;
      if (third === undefined) return <RunsPage experimentId={second} query={route.query} />;
      if (third === 'runs' && fourth) return <RunPage runId={fourth} query={route.query} />;
      break;
    case 'runs':
      if (second) return <RunPage runId={second} query={route.query} />;
      break;
    case 'compare':
      return <ComparePage query={route.query} />;
    case 'admin':
      return <AdminPage tab={second} query={route.query} auditOnly={!isAdmin} />;
    case 'models':
      if (second === undefined) return <ModelsPage query={route.query} />;
      if (third === undefined) return <ModelPage name={second} />;
      if (third === 'versions' && fourth) return <VersionPage name={second} version={fourth} />;
      break;
  }
  return <NotFound what={`There is no page at ${window.location.hash}.`} />;
}

function signOut() {
  // Whatever the answer, the session is asked again: a failed sign-out leaves the user signed in.
  api.signOut().finally(resetSession).catch(() => undefined);
}

function App() {
  const route = useRoute();
  const section = ['models', 'admin'].includes(route.path[0]) ? route.path[0] : 'experiments';
  const session = useSession();
  const user = session?.accessControl ? session.user : null;
  const signInDue = session?.accessControl === true && !user;
  const current = (name: string) => (section === name ? 'page' : undefined);
  return (
    <>
      <header class="top">
        <a class="brand" href="#/experiments">ferroflow</a>
        {!signInDue && (
          <nav aria-label="Sections">
            <a href="#/experiments" aria-current={current('experiments')}>Experiments</a>
            <a href="#/models" aria-current={current('models')}>Models</a>
            {user?.is_admin && <a href="#/admin" aria-current={current('admin')}>Admin</a>}
            {user && !user.is_admin && session?.accessControl && session.isAuditor && (
              <a href="#/admin/audit" aria-current={current('admin')}>Audit log</a>
            )}
          </nav>
        )}
        {user && (
          <span class="signed-in">
            <span>Signed in as <strong>{user.username}</strong>{user.is_admin ? ' (admin)' : ''}</span>
            <button type="button" onClick={signOut}>Sign out</button>
          </span>
        )}
      </header>
      <main>{session === undefined ? null : signInDue ? <SignInPage /> : <Page isAdmin={!session.accessControl || user?.is_admin === true} />}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
