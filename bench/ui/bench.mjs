// The web UI benchmark: ferroflow's UI and the stock `mlflow server` UI, on the same machine in one
// run, each server on a fresh SQLite file seeded with the same data over the REST API. Headless
// Chromium (playwright-core) loads each page from a cold browser context and measures the time until
// the page shows what a user came for, and the compressed bytes of script and style it transferred.
//
//   node bench.mjs [--runs 5000] [--steps 100000] [--compare 100] [--repeats 3]
//
// Environment: FERROFLOW_BIN (default target/release/ferroflow), MLFLOW_BIN (default
// .venv/bench/bin/mlflow), CHROMIUM (default /usr/bin/chromium), BENCH_SCREENSHOTS (a directory:
// each page is saved there as it was when counted ready).

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const { values: options } = parseArgs({
  options: {
    runs: { type: 'string', default: '5000' },
    params: { type: 'string', default: '20' },
    metrics: { type: 'string', default: '20' },
    steps: { type: 'string', default: '100000' },
    compare: { type: 'string', default: '100' },
    repeats: { type: 'string', default: '3' },
    timeout: { type: 'string', default: '180' },
  },
});
const RUNS = Number(options.runs);
const PARAMS = Number(options.params);
const METRICS = Number(options.metrics);
const STEPS = Number(options.steps);
const COMPARE = Number(options.compare);
const REPEATS = Number(options.repeats);
const TIMEOUT_MS = Number(options.timeout) * 1000;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function start(kind) {
  const dir = await mkdtemp(path.join(tmpdir(), `ui-bench-${kind}-`));
  const port = await freePort();
  const common = ['server', '--host', '127.0.0.1', '--port', String(port),
    '--backend-store-uri', `sqlite:///${path.join(dir, 'db.sqlite')}`,
    '--artifacts-destination', path.join(dir, 'artifacts')];
  const bin = kind === 'ferroflow'
    ? process.env.FERROFLOW_BIN ?? path.join(repo, 'target', 'release', 'ferroflow')
    : process.env.MLFLOW_BIN ?? path.join(repo, '.venv', 'bench', 'bin', 'mlflow');
  const child = spawn(bin, common, {
    env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', RUST_LOG: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${kind} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`${kind} did not start within 120 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    kind, url,
    async stop() {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function call(server, endpoint, body) {
  const response = await fetch(`${server.url}/api/2.0/mlflow/${endpoint}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${server.kind} ${endpoint}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function inParallel(count, width, task) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < count) await task(next++);
  }));
}

/** The same data on both servers: a wide experiment, a long history, and runs to compare. */
async function seed(server) {
  const t0 = Date.now();
  // Tagged as model training, so that MLflow 3's UI opens the runs and not its GenAI overview.
  const training = [{ key: 'mlflow.experimentKind', value: 'custom_model_development' }];
  const { experiment_id: wide } = await call(server, 'experiments/create', { name: 'ui-bench-wide', tags: training });
  const ids = new Array(RUNS);
  const base = 1_700_000_000_000;
  await inParallel(RUNS, 8, async (i) => {
    const { run } = await call(server, 'runs/create', {
      experiment_id: wide, run_name: `run-${String(i).padStart(5, '0')}`, start_time: base + i * 1000,
    });
    ids[i] = run.info.run_id;
    await call(server, 'runs/log-batch', {
      run_id: run.info.run_id,
      params: Array.from({ length: PARAMS }, (_, p) => ({ key: `param-${p}`, value: String((i * 7 + p) % 97) })),
      metrics: Array.from({ length: METRICS }, (_, m) => ({ key: `metric-${m}`, value: Math.sin(i + m), timestamp: base + i, step: 0 })),
    });
  });

  const { experiment_id: longId } = await call(server, 'experiments/create', { name: 'ui-bench-long', tags: training });
  const { run: long } = await call(server, 'runs/create', { experiment_id: longId, run_name: 'long-history', start_time: base });
  await inParallel(Math.ceil(STEPS / 1000), 4, async (chunk) => {
    const metrics = [];
    for (let s = chunk * 1000; s < Math.min(STEPS, (chunk + 1) * 1000); s++) {
      metrics.push({ key: 'loss', value: 1 / (1 + s / 1000) + 0.05 * Math.sin(s / 50), timestamp: base + s, step: s });
    }
    await call(server, 'runs/log-batch', { run_id: long.info.run_id, metrics });
  });
  return {
    wide, longExperiment: longId, longRun: long.info.run_id, newest: `run-${String(RUNS - 1).padStart(5, '0')}`,
    compare: ids.slice(0, COMPARE), seconds: (Date.now() - t0) / 1000,
  };
}

/** The pages, and what shows that each is ready, in each UI. */
const PAGES = {
  runs: {
    label: `runs table, ${RUNS} runs × ${PARAMS} params × ${METRICS} metrics`,
    ferroflow: (d) => ({ hash: `/experiments/${d.wide}`, ready: (page) => page.getByRole('link', { name: d.newest, exact: true }).waitFor() }),
    mlflow: (d) => ({ hash: `/experiments/${d.wide}/runs`, ready: (page) => page.getByText(d.newest, { exact: true }).first().waitFor() }),
  },
  chart: {
    label: `run page, a ${STEPS.toLocaleString('en')}-step metric drawn`,
    ferroflow: (d) => ({
      hash: `/runs/${d.longRun}`,
      ready: (page) => page.waitForFunction(() => Number(document.querySelector('[data-metric="loss"]')?.dataset.points) > 0, null, { timeout: TIMEOUT_MS }),
    }),
    mlflow: (d) => ({
      hash: `/experiments/${d.longExperiment}/runs/${d.longRun}/model-metrics`,
      ready: (page) => page.locator('.js-plotly-plot .scatterlayer path.js-line, canvas[data-testid], .uplot canvas').first().waitFor(),
    }),
  },
  compare: {
    label: `compare ${COMPARE} runs (parallel coordinates drawn)`,
    ferroflow: (d) => ({
      hash: `/compare?runs=${d.compare.join(',')}`,
      ready: (page) => page.waitForFunction((n) => Number(document.querySelector('canvas[data-lines]')?.dataset.lines) === n, COMPARE, { timeout: TIMEOUT_MS }),
    }),
    mlflow: (d) => ({
      hash: `/compare-runs?runs=${encodeURIComponent(JSON.stringify(d.compare))}&experiments=${encodeURIComponent(JSON.stringify([d.wide]))}`,
      ready: (page) => page.locator('.parcoords, .js-plotly-plot .parcoords-line-layers, g.parcoords').first().waitFor(),
    }),
  },
};

async function measure(browser, server, page, data) {
  const { hash, ready } = PAGES[page][server.kind](data);
  const times = [];
  let bytes = 0;
  for (let i = 0; i < REPEATS; i++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const tab = await context.newPage();
    tab.setDefaultTimeout(TIMEOUT_MS);
    const assets = [];
    tab.on('requestfinished', (request) => {
      if (['script', 'stylesheet'].includes(request.resourceType())) assets.push(request);
    });
    const t0 = performance.now();
    await tab.goto(`${server.url}/#${hash}`);
    await ready(tab);
    times.push(performance.now() - t0);
    if (i === 0 && process.env.BENCH_SCREENSHOTS) {
      await tab.screenshot({ path: path.join(process.env.BENCH_SCREENSHOTS, `${server.kind}-${page}.png`) });
    }
    if (i === 0) {
      for (const request of assets) bytes += (await request.sizes()).responseBodySize;
    }
    await context.close();
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], bytes };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const results = {};
try {
  for (const kind of ['ferroflow', 'mlflow']) {
    const server = await start(kind);
    try {
      const data = await seed(server);
      console.error(`[ui-bench] ${kind}: seeded in ${data.seconds.toFixed(0)} s`);
      results[kind] = {};
      for (const page of Object.keys(PAGES)) {
        try {
          results[kind][page] = await measure(browser, server, page, data);
        } catch (error) {
          results[kind][page] = { error: error.message.split('\n')[0] };
        }
        console.error(`[ui-bench] ${kind} ${page}: ${JSON.stringify(results[kind][page])}`);
      }
    } finally {
      await server.stop();
    }
  }
} finally {
  await browser.close();
}

const fmt = (r) => (r.error ? `failed: ${r.error}` : `${(r.ms / 1000).toFixed(2)} s`);
console.log(`| page (median of ${REPEATS} cold loads) | ferroflow | MLflow 3 UI | MLflow / ferroflow |`);
console.log('|---|---|---|---|');
for (const [page, spec] of Object.entries(PAGES)) {
  const f = results.ferroflow[page];
  const m = results.mlflow[page];
  const ratio = f.error || m.error ? '—' : `${(m.ms / f.ms).toFixed(1)}x`;
  console.log(`| ${spec.label} | ${fmt(f)} | ${fmt(m)} | ${ratio} |`);
}
const kb = (r) => (r.error ? '—' : `${(r.bytes / 1024).toFixed(0)} KB`);
const f = results.ferroflow.runs;
const m = results.mlflow.runs;
console.log(`| script and style transferred for the runs page, as served | ${kb(f)} | ${kb(m)} | ${f.error || m.error ? '—' : `${(m.bytes / f.bytes).toFixed(0)}x`} |`);
