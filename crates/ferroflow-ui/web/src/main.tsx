import { render } from 'preact';
import './style.css';
import { NotFound } from './components';
import { useRoute } from './router';
import { useSession } from './session';
import { ExperimentsPage } from './pages/experiments';
import { RunsPage } from './pages/runs';
import { RunPage } from './pages/run';
import { ComparePage } from './pages/compare';
import { ModelsPage, ModelPage, VersionPage } from './pages/models';

function Page() {
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
    case 'models':
      if (second === undefined) return <ModelsPage query={route.query} />;
      if (third === undefined) return <ModelPage name={second} />;
      if (third === 'versions' && fourth) return <VersionPage name={second} version={fourth} />;
      break;
  }
  return <NotFound what={`There is no page at ${window.location.hash}.`} />;
}

function App() {
  const route = useRoute();
  const section = route.path[0] === 'models' ? 'models' : 'experiments';
  const session = useSession();
  return (
    <>
      <header class="top">
        <a class="brand" href="#/experiments">ferroflow</a>
        <nav aria-label="Sections">
          <a href="#/experiments" aria-current={section === 'experiments' ? 'page' : undefined}>Experiments</a>
          <a href="#/models" aria-current={section === 'models' ? 'page' : undefined}>Models</a>
        </nav>
        {session?.accessControl && (
          <span class="signed-in">Signed in as <strong>{session.user.username}</strong>{session.user.is_admin ? ' (admin)' : ''}</span>
        )}
      </header>
      <main><Page /></main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
