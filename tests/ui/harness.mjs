// What the UI tests share: a ferroflow server on a fresh SQLite file, data seeded through the stock
// mlflow client (seed.py), and browser pages that record every console error, page error and
// failed request, so that a test can insist there were none.
//
// Environment:
//   FERROFLOW_BIN              the binary (default <repo>/target/release/ferroflow)
//   FERROFLOW_UI_PYTHON        python with mlflow installed (default <repo>/.venv/mlflow3/bin/python)
//   CHROMIUM                   the browser (default /usr/bin/chromium)
//   FERROFLOW_UI_SCREENSHOTS   where screenshots go (default <tmp>/ferroflow-ui-screenshots)

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
export const ADMIN_PASSWORD = 'ui admin password';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `ferroflow server`; `auth` switches access control on with an admin. */
export async function startServer({ auth = false } = {}) {
  const bin = process.env.FERROFLOW_BIN ?? path.join(repo, 'target', 'release', 'ferroflow');
  const dir = await mkdtemp(path.join(tmpdir(), 'ferroflow-ui-'));
  const port = await freePort();
  const args = ['server', '--host', '127.0.0.1', '--port', String(port),
    '--backend-store-uri', `sqlite:///${path.join(dir, 'ff.db')}`,
    '--artifacts-destination', path.join(dir, 'artifacts')];
  const env = { ...process.env, RUST_LOG: 'warn' };
  if (auth) {
    args.push('--auth');
    env.FERROFLOW_ADMIN_PASSWORD = ADMIN_PASSWORD;
  }
  const child = spawn(bin, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${bin} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${bin} did not answer /health within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs seed.py against the server and returns what it made. */
export function seed(url, credentials = {}) {
  const python = process.env.FERROFLOW_UI_PYTHON ?? path.join(repo, '.venv', 'mlflow3', 'bin', 'python');
  const env = {
    ...process.env, MLFLOW_TRACKING_URI: url, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true',
  };
  if (credentials.username) {
    env.MLFLOW_TRACKING_USERNAME = credentials.username;
    env.MLFLOW_TRACKING_PASSWORD = credentials.password;
  }
  return new Promise((resolve, reject) => {
    execFile(python, [path.join(here, 'seed.py')], { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`seed.py failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // CI runs as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/**
 * A page whose console errors, page errors and same-origin answers of 400 and up are collected
 * in `problems`; `expect(status, urlPart)` admits one answer that a test provokes on purpose.
 */
export async function auditedPage(browser, baseUrl, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, ...options });
  const page = await context.newPage();
  const problems = [];
  const expected = [];
  page.on('console', (message) => {
    // Chromium also logs each failed request; the response handler below judges those.
    if (message.type() !== 'error' || /^Failed to load resource: the server responded with a status of \d+/.test(message.text())) return;
    problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    const url = response.url();
    if (!url.startsWith(baseUrl) || response.status() < 400) return;
    const i = expected.findIndex((e) => e.status === response.status() && url.includes(e.urlPart));
    if (i >= 0) expected.splice(i, 1);
    else problems.push(`HTTP ${response.status()} from ${response.request().method()} ${url}`);
  });
  return {
    page,
    context,
    problems,
    expect(status, urlPart) {
      expected.push({ status, urlPart });
    },
  };
}

/** Saves a full-page screenshot named `name` outside the repository. */
export async function screenshot(page, name) {
  const dir = process.env.FERROFLOW_UI_SCREENSHOTS ?? path.join(tmpdir(), 'ferroflow-ui-screenshots');
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}
