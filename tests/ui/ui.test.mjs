// The web UI in headless Chromium against a real ferroflow server, seeded by the stock mlflow
// client. Each test walks a page as a user would and fails on any console error, page error or
// failed request it did not provoke on purpose.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ADMIN_PASSWORD, auditedPage, launchBrowser, screenshot, seed, startServer } from './harness.mjs';

let server;
let data;
let browser;
const opened = [];

before(async () => {
  server = await startServer();
  data = await seed(server.url);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Opens `#<hash>` in a fresh audited page. */
async function open(hash) {
  const audited = await auditedPage(browser, server.url);
  opened.push(audited);
  await audited.page.goto(`${server.url}/#${hash}`);
  return audited;
}

/** Closes the page, insisting nothing went wrong on it. */
async function finish(audited, name) {
  await audited.page.waitForLoadState('networkidle');
  if (name) await screenshot(audited.page, name);
  await audited.context.close();
  assert.deepEqual(audited.problems, [], 'the page logged no errors and no request failed');
}

async function rest(method, endpoint, body) {
  const response = await fetch(`${server.url}/api/2.0/mlflow/${endpoint}`, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(response.ok, `${endpoint}: ${response.status} ${await response.clone().text()}`);
  return response.json();
}

/** The run names in the runs table, top to bottom. */
async function runNames(page) {
  return page.locator('table[aria-label="Runs"] tbody td.name a').allTextContents();
}

describe('serving', () => {
  test('the server answers / with the UI, and its assets compressed with long-lived caching', async () => {
    const index = await fetch(`${server.url}/`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /^text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await index.text();
    const script = html.match(/src="\.\/(assets\/[^"]+\.js)"/);
    assert.ok(script, 'index.html loads a bundled script');
    assert.match(html, /<meta name="ferroflow-access-control" content="off">/, 'the page says access control is off');

    const asset = await fetch(`${server.url}/${script[1]}`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('content-encoding'), 'gzip');
    assert.match(asset.headers.get('content-type'), /javascript/);
    assert.match(asset.headers.get('cache-control'), /immutable/);
    assert.ok((await asset.text()).length > 10_000, 'the script is the real bundle');

    const missing = await fetch(`${server.url}/assets/no-such-file.js`);
    assert.equal(missing.status, 404);
    const api = await fetch(`${server.url}/api/2.0/mlflow/no-such-endpoint`);
    assert.equal(api.status, 404);
    assert.match(api.headers.get('content-type'), /json/, 'the API keeps answering in JSON');
  });

  test('an unknown page says so and links back', async () => {
    const audited = await open('/no/such/page');
    await audited.page.getByRole('heading', { name: 'Not found' }).waitFor();
    await audited.page.getByRole('link', { name: 'Back to the experiments' }).click();
    await audited.page.getByRole('heading', { name: 'Experiments' }).waitFor();
    await finish(audited);
  });

  test('a run that does not exist shows the server’s message, not a blank page', async () => {
    const audited = await open('/runs/0123456789abcdef0123456789abcdef');
    audited.expect(404, 'runs/get');
    await audited.page.getByRole('heading', { name: 'Not found' }).waitFor();
    assert.match(await audited.page.locator('.not-found').textContent(), /0123456789abcdef0123456789abcdef/);
    await finish(audited);
  });
});

describe('experiments', () => {
  test('lists, searches, creates, renames, deletes and restores experiments', async () => {
    const audited = await open('/experiments');
    const { page } = audited;
    const table = page.getByRole('table', { name: 'Experiments' });
    await table.getByRole('link', { name: 'ui-sweep' }).waitFor();
    await table.getByRole('link', { name: 'ui-empty' }).waitFor();
    assert.match(await table.textContent(), /team: forecasting/, 'tags show in the list');

    await page.getByLabel('Search experiments by name').fill('swe');
    await page.waitForFunction(() => window.location.hash.includes('q=swe'));
    await table.getByRole('link', { name: 'ui-empty' }).waitFor({ state: 'detached' });
    assert.equal(await table.getByRole('link', { name: 'ui-sweep' }).count(), 1);
    await page.getByLabel('Search experiments by name').fill('');
    await table.getByRole('link', { name: 'ui-empty' }).waitFor();

    await page.getByRole('button', { name: 'New experiment' }).click();
    await page.getByLabel('Experiment name').fill('ui-created');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'ui-created' }).waitFor();
    await page.getByText('No runs in this experiment yet.').waitFor();

    await page.getByRole('link', { name: 'Experiments' }).first().click();
    await page.getByRole('button', { name: 'Rename ui-created' }).click();
    await page.getByLabel('New name of ui-created').fill('ui-renamed');
    await page.getByRole('button', { name: 'Save' }).click();
    await table.getByRole('link', { name: 'ui-renamed' }).waitFor();
    const { experiment } = await rest('GET', 'experiments/get-by-name?experiment_name=ui-renamed');
    assert.equal(experiment.lifecycle_stage, 'active');

    page.once('dialog', (dialog) => dialog.accept());
    await page.getByRole('button', { name: 'Delete ui-renamed' }).click();
    await table.getByRole('link', { name: 'ui-renamed' }).waitFor({ state: 'detached' });
    assert.equal((await rest('GET', `experiments/get?experiment_id=${experiment.experiment_id}`)).experiment.lifecycle_stage, 'deleted');

    await page.getByLabel('Show deleted experiments').check();
    await page.getByRole('button', { name: 'Restore ui-renamed' }).click();
    await page.getByRole('button', { name: 'Restore ui-renamed' }).waitFor({ state: 'detached' });
    assert.equal((await rest('GET', `experiments/get?experiment_id=${experiment.experiment_id}`)).experiment.lifecycle_stage, 'active');
    await finish(audited, 'experiments');
  });

  test('a duplicate name is refused with the server’s message next to the form', async () => {
    const audited = await open('/experiments');
    const { page } = audited;
    audited.expect(400, 'experiments/create');
    await page.getByRole('button', { name: 'New experiment' }).click();
    await page.getByLabel('Experiment name').fill('ui-sweep');
    await page.getByRole('button', { name: 'Create' }).click();
    const alert = page.getByRole('form', { name: 'New experiment' }).getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.textContent(), /ui-sweep/);
    await finish(audited);
  });
});

describe('runs of an experiment', () => {
  test('nested trials are grouped under their parent and open on request', async () => {
    const audited = await open(`/experiments/${data.sweep_experiment_id}`);
    const { page } = audited;
    await page.getByRole('link', { name: 'tuning-sweep' }).waitFor();
    assert.deepEqual((await runNames(page)).sort(), ['long-run', 'tuning-sweep'], 'trials hide under the sweep');

    await page.getByRole('button', { name: 'Expand the 12 child runs of tuning-sweep' }).click();
    await page.getByRole('link', { name: 'trial-11' }).waitFor();
    const names = await runNames(page);
    assert.equal(names.length, 14);
    const sweepAt = names.indexOf('tuning-sweep');
    assert.deepEqual(names.slice(sweepAt + 1, sweepAt + 13).sort(), data.trials.map((t) => t.name).sort(),
      'the trials follow their parent');
    await finish(audited, 'runs-grouped');
  });

  test('sorting is done by the server, on any metric column', async () => {
    const audited = await open(`/experiments/${data.sweep_experiment_id}?flat=1`);
    const { page } = audited;
    await page.getByRole('link', { name: 'trial-00' }).waitFor();
    const waitSearch = () => page.waitForResponse((r) => r.url().includes('runs/search') && r.request().method() === 'POST');
    let searched = waitSearch();
    await page.getByRole('button', { name: 'Sort by Metric median-AE' }).click();
    let request = (await searched).request().postDataJSON();
    assert.deepEqual(request.order_by, ['metrics.`median-AE` DESC']);
    searched = waitSearch();
    await page.getByRole('button', { name: /Sort by Metric median-AE/ }).click();
    request = (await searched).request().postDataJSON();
    assert.deepEqual(request.order_by, ['metrics.`median-AE` ASC']);
    await page.waitForFunction(() => document.querySelector('th[aria-sort="ascending"]'));
    const expected = [...data.trials].sort((a, b) => a.median_ae - b.median_ae).map((t) => t.name);
    await page.waitForFunction((first) => document.querySelector('table[aria-label="Runs"] tbody td.name a')?.textContent === first, expected[0]);
    const names = (await runNames(page)).filter((n) => n.startsWith('trial-'));
    assert.deepEqual(names, expected, 'trials in ascending median-AE');
    await finish(audited);
  });

  test('the filter box takes MLflow’s grammar and shows the server’s error inline', async () => {
    const audited = await open(`/experiments/${data.sweep_experiment_id}?flat=1`);
    const { page } = audited;
    await page.getByRole('link', { name: 'trial-00' }).waitFor();
    await page.getByLabel('Filter runs').fill("params.`n-estimators` = '100'");
    await page.getByLabel('Filter runs').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Runs"] tbody td.name a').length === 1);
    assert.deepEqual(await runNames(page), ['trial-05']);

    // A bare word searches the run names.
    await page.getByLabel('Filter runs').fill('trial-1');
    await page.getByLabel('Filter runs').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Runs"] tbody td.name a').length === 2);
    assert.deepEqual((await runNames(page)).sort(), ['trial-10', 'trial-11']);

    audited.expect(400, 'runs/search');
    await page.getByLabel('Filter runs').fill('metrics.loss <<< 1');
    await page.getByLabel('Filter runs').press('Enter');
    const alert = page.getByRole('alert', { name: 'Filter error' });
    await alert.waitFor();
    assert.ok((await alert.textContent()).length > 10, 'the server’s message is shown');
    assert.equal(await page.getByRole('table', { name: 'Runs' }).count(), 0);

    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByRole('link', { name: 'long-run' }).waitFor();
    await finish(audited);
  });

  test('the user chooses the columns, and the choice is kept in the link', async () => {
    const audited = await open(`/experiments/${data.sweep_experiment_id}?flat=1`);
    const { page } = audited;
    const grid = page.getByRole('table', { name: 'Runs' });
    await grid.getByRole('button', { name: 'Sort by Param n-estimators' }).waitFor();
    await page.getByRole('button', { name: /^Columns/ }).click();
    const picker = page.getByRole('group', { name: 'Columns' });
    await picker.getByLabel('n-estimators').uncheck();
    await picker.getByLabel('trial').check();
    await grid.getByRole('button', { name: 'Sort by Param n-estimators' }).waitFor({ state: 'detached' });
    await grid.getByRole('button', { name: 'Sort by Tag trial' }).waitFor();
    const link = page.url();
    await finish(audited);

    const again = await auditedPage(browser, server.url);
    await again.page.goto(link);
    const grid2 = again.page.getByRole('table', { name: 'Runs' });
    await grid2.getByRole('button', { name: 'Sort by Tag trial' }).waitFor();
    assert.equal(await grid2.getByRole('button', { name: 'Sort by Param n-estimators' }).count(), 0);
    await finish(again);
  });

  test('selected runs open side by side on the compare page', async () => {
    const audited = await open(`/experiments/${data.sweep_experiment_id}?flat=1`);
    const { page } = audited;
    for (const name of ['trial-01', 'trial-02', 'trial-03']) await page.getByLabel(`Select ${name}`).check();
    // The selection is in the link: opened again, the same runs are selected.
    await page.reload();
    await page.getByLabel('Select trial-02').waitFor();
    assert.equal(await page.getByLabel('Select trial-02').isChecked(), true);
    assert.equal(await page.getByLabel('Select trial-04').isChecked(), false);
    await page.getByRole('button', { name: 'Compare 3' }).click();
    await page.getByRole('heading', { name: 'Compare 3 runs' }).waitFor();
    const params = page.getByRole('table', { name: 'Parameters' });
    await params.waitFor();
    assert.match(await params.textContent(), /n-estimators/);
    for (const section of ['Metrics', 'Parallel coordinates', 'Scatter plot', 'Metric charts']) {
      await page.getByRole('heading', { name: section }).waitFor();
    }
    await page.locator('[data-metric="median-AE"][data-points="6"]').waitFor();
    await finish(audited, 'compare');
  });

  test('thousands of runs page in through the API while only the rows in view are drawn', async () => {
    const { experiment_id: id } = await rest('POST', 'experiments/create', { name: 'ui-many-runs' });
    const total = 2500;
    const ids = [];
    for (let start = 0; start < total; start += 50) {
      const made = await Promise.all(Array.from({ length: 50 }, (_, i) => rest('POST', 'runs/create', {
        experiment_id: id, run_name: `bulk-${String(start + i).padStart(4, '0')}`, start_time: 1_700_000_000_000 + start + i,
      })));
      ids.push(...made.map((m) => m.run.info.run_id));
    }
    const audited = await auditedPage(browser, server.url);
    opened.push(audited);
    const { page } = audited;
    const searches = [];
    page.on('request', (r) => { if (r.url().includes('/runs/search')) searches.push(JSON.parse(r.postData()).max_results); });
    await page.goto(`${server.url}/#/experiments/${id}`);
    await page.getByRole('link', { name: 'bulk-2499' }).waitFor();
    const drawn = await page.locator('table[aria-label="Runs"] tbody tr[data-run-id]').count();
    assert.ok(drawn > 10 && drawn < 100, `${drawn} rows are in the DOM`);

    // Scrolling to the end fetches the later pages and draws the last rows: a first page of 200
    // runs that comes quickly, then 1,000 at a time, each page asked for once.
    for (let i = 0; i < 6; i++) {
      await page.locator('.runs-grid').evaluate((el) => { el.scrollTop = el.scrollHeight; });
      await page.waitForTimeout(150);
    }
    await page.getByRole('status').filter({ hasText: `${total} runs` }).waitFor();
    await page.locator('.runs-grid').evaluate((el) => { el.scrollTop = el.scrollHeight; });
    await page.getByRole('link', { name: 'bulk-0000' }).waitFor();
    assert.ok(await page.locator('table[aria-label="Runs"] tbody tr[data-run-id]').count() < 100);
    assert.deepEqual(searches, [200, 1000, 1000, 1000]);
    await finish(audited);

    // 250 runs of two experiments compared: each experiment is searched for a hundred ids at a
    // time, and only the first run found in each is fetched on its own.
    const { experiment_id: otherId } = await rest('POST', 'experiments/create', { name: 'ui-many-runs-too' });
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => rest('POST', 'runs/create', {
      experiment_id: otherId, run_name: `other-${i}`, start_time: 1_700_000_000_000 + i,
    })));
    const mixed = ids.slice(0, 230);
    others.forEach((o, i) => mixed.splice(5 + i * 11, 0, o.run.info.run_id));
    const compared = await auditedPage(browser, server.url);
    let single = 0;
    compared.page.on('request', (r) => { if (r.url().includes('/runs/get?')) single += 1; });
    await compared.page.goto(`${server.url}/#/compare?runs=${mixed.join(',')}`);
    await compared.page.getByRole('heading', { name: 'Compare 250 runs' }).waitFor();
    const listed = compared.page.getByRole('list', { name: 'Compared runs' }).getByRole('listitem');
    assert.equal(await listed.count(), 250);
    assert.match(await listed.nth(5).textContent(), /other-0/, 'the runs keep the order of the link');
    assert.equal(single, 2, 'one run of each experiment is fetched on its own');
    await finish(compared);
  });
});

describe('a run', () => {
  test('shows what the run is, with its params, metrics and parent', async () => {
    const trial = data.trials[3];
    const audited = await open(`/runs/${trial.run_id}`);
    const { page } = audited;
    await page.getByRole('heading', { name: trial.name }).waitFor();
    assert.match(await page.locator('dl.facts').textContent(), new RegExp(trial.run_id));
    await page.getByRole('link', { name: 'tuning-sweep' }).waitFor();
    const params = page.getByRole('table', { name: 'Parameters' });
    assert.match(await params.textContent(), /n-estimators80/);
    const metrics = page.getByRole('table', { name: 'Metrics' });
    assert.match(await metrics.textContent(), /median-AE/);
    await page.getByRole('link', { name: 'tuning-sweep' }).click();
    await page.getByRole('heading', { name: 'tuning-sweep' }).waitFor();
    await page.getByRole('list', { name: 'Child runs' }).getByRole('link', { name: 'trial-03' }).waitFor();
    await finish(audited, 'run-trial');
  });

  test('tags can be added, edited and deleted, and the server keeps them', async () => {
    const audited = await open(`/runs/${data.long_run_id}`);
    const { page } = audited;
    const tags = page.getByRole('table', { name: 'Run tags' });
    await tags.waitFor();
    await page.getByLabel('New tag key').fill('reviewed');
    await page.getByLabel('New tag value').fill('yes');
    await page.getByRole('button', { name: 'Add tag' }).click();
    await tags.getByRole('rowheader', { name: 'reviewed' }).waitFor();
    const tagOf = async () => (await rest('GET', `runs/get?run_id=${data.long_run_id}`)).run.data.tags.find((t) => t.key === 'reviewed')?.value;
    assert.equal(await tagOf(), 'yes');

    await page.getByRole('button', { name: 'Edit tag reviewed' }).click();
    await page.getByLabel('Value of tag reviewed').fill('by the auditor');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await tags.getByText('by the auditor').waitFor();
    assert.equal(await tagOf(), 'by the auditor');

    await page.getByRole('button', { name: 'Delete tag reviewed' }).click();
    await tags.getByRole('rowheader', { name: 'reviewed' }).waitFor({ state: 'detached' });
    assert.equal(await tagOf(), undefined);
    await finish(audited);
  });

  test('a long history is downsampled by the server, and zooming fetches the detail', async () => {
    const audited = await open(`/runs/${data.long_run_id}`);
    const { page } = audited;
    const loss = page.locator('[data-metric="loss"]');
    await page.waitForFunction(() => Number(document.querySelector('[data-metric="loss"]')?.dataset.points) > 0);
    const points = Number(await loss.getAttribute('data-points'));
    assert.ok(points >= 200 && points < data.long_history, `${points} of ${data.long_history} points drawn`);

    await loss.scrollIntoViewIfNeeded();
    const canvas = loss.locator('.u-over');
    const box = await canvas.boundingBox();
    const zoomed = page.waitForResponse((r) => r.url().includes('get-history-bulk-interval') && r.url().includes('start_step'));
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.45, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const url = new URL((await zoomed).url());
    const start = Number(url.searchParams.get('start_step'));
    const end = Number(url.searchParams.get('end_step'));
    assert.ok(start > 0 && end > start && end - start < data.long_history / 5, `zoomed to steps ${start}–${end}`);
    await page.getByRole('button', { name: 'Reset zoom of loss' }).waitFor();
    // The window is drawn from its own, denser sample: before the zoom it held about
    // points × window / history of them.
    const before = (points * (end - start)) / data.long_history;
    await page.waitForFunction(({ least }) => Number(document.querySelector('[data-metric="loss"]')?.dataset.points) >= least,
      { least: Math.min(end - start, 3 * before, 200) });

    // The same by keyboard: type the steps.
    await page.getByLabel('Zoom loss to steps').focus();
    await page.keyboard.press('Enter');
    await page.getByLabel('First step of loss').fill('100');
    await page.getByLabel('Last step of loss').fill('200');
    const typed = page.waitForResponse((r) => r.url().includes('get-history-bulk-interval') && r.url().includes('start_step=100'));
    await page.getByLabel('Last step of loss').press('Enter');
    assert.equal(new URL((await typed).url()).searchParams.get('end_step'), '200');
    await page.waitForFunction(() => Number(document.querySelector('[data-metric="loss"]')?.dataset.points) === 101);

    // The zoom is in the link: a reload (or whoever the link is sent to) sees the same steps.
    const zoomOf = () => new URLSearchParams(new URL(page.url()).hash.split('?')[1]).get('zoom:loss');
    assert.equal(zoomOf(), '100,200');
    const reloaded = page.waitForResponse((r) => r.url().includes('get-history-bulk-interval') && r.url().includes('start_step=100'));
    await page.reload();
    await reloaded;
    await page.waitForFunction(() => Number(document.querySelector('[data-metric="loss"]')?.dataset.points) === 101);
    await page.getByRole('button', { name: 'Reset zoom of loss' }).waitFor();

    await page.getByLabel('Log scale').check();
    await page.waitForFunction(() => window.location.hash.includes('log=1'));
    await page.getByLabel('X axis').selectOption('relative');
    await page.waitForFunction(() => window.location.hash.includes('x=relative'));
    // A range of steps means nothing on a time axis: the zoom ends with the axis.
    assert.equal(zoomOf(), null);
    await page.getByRole('button', { name: 'Reset zoom of loss' }).waitFor({ state: 'detached' });
    await finish(audited, 'run-charts');
  });

  test('the artifact browser previews text, JSON, YAML, CSV, images and MLmodel, and downloads', async () => {
    const audited = await open(`/runs/${data.long_run_id}`);
    const { page } = audited;
    const tree = page.getByRole('navigation', { name: 'Artifact files' });
    const preview = page.getByRole('region', { name: 'Artifact preview' });
    await tree.getByRole('button', { name: /notes\.txt/ }).click();
    await preview.getByText('Training notes: the loss falls.').waitFor();

    await tree.getByRole('button', { name: /config\// }).click();
    await tree.getByRole('button', { name: /params\.json/ }).click();
    await preview.locator('pre[data-preview="json"]').filter({ hasText: '"learning_rate": 0.01' }).waitFor();
    await tree.getByRole('button', { name: /env\.yaml/ }).click();
    await preview.locator('pre[data-preview="yaml"]').filter({ hasText: 'python=3.11' }).waitFor();

    await tree.getByRole('button', { name: /data\// }).click();
    await tree.getByRole('button', { name: /sample\.csv/ }).click();
    const table = preview.getByRole('table', { name: 'Table preview' });
    await table.getByRole('columnheader', { name: 'note, quoted' }).waitFor();
    await table.getByRole('cell', { name: 'a, b' }).waitFor();

    await tree.getByRole('button', { name: /plots\// }).click();
    await tree.getByRole('button', { name: /curve\.png/ }).click();
    const image = preview.getByRole('img', { name: 'plots/curve.png' });
    await page.waitForFunction(() => document.querySelector('.artifact-preview img')?.naturalWidth === 24);
    assert.ok(await image.isVisible());

    await tree.getByRole('button', { name: /model\// }).click();
    await tree.getByRole('button', { name: /MLmodel/ }).click();
    await preview.locator('pre').filter({ hasText: 'loader_module: mlflow.sklearn' }).waitFor();

    const href = await preview.getByRole('link', { name: 'Download' }).getAttribute('href');
    const download = await fetch(new URL(href, `${server.url}/`));
    assert.equal(await download.text(), data.artifacts['model/MLmodel']);
    await finish(audited, 'run-artifacts');
  });
});

describe('the model registry', () => {
  test('lists models, shows versions and aliases, and moves a version to another stage', async () => {
    const audited = await open('/models');
    const { page } = audited;
    await page.getByRole('table', { name: 'Registered models' }).getByRole('link', { name: data.model }).click();
    await page.getByRole('heading', { name: data.model }).waitFor();
    const versions = page.getByRole('table', { name: 'Model versions' });
    await versions.getByRole('link', { name: /Version 2/ }).waitFor();
    assert.match(await page.getByRole('table', { name: 'Aliases' }).textContent(), /champion/);

    await versions.getByRole('link', { name: /Version 1/ }).click();
    await page.getByRole('heading', { name: /version 1/ }).waitFor();
    assert.match(await page.locator('dl.facts').textContent(), /Staging/);
    await page.getByLabel('New stage').selectOption('Production');
    await page.getByRole('button', { name: 'Transition' }).click();
    await page.locator('dl.facts .badge', { hasText: 'Production' }).waitFor();
    const { model_version: version } = await rest('GET', `model-versions/get?name=${data.model}&version=1`);
    assert.equal(version.current_stage, 'Production');

    await page.getByRole('table', { name: 'Signature inputs' }).getByRole('cell', { name: 'MedInc' }).waitFor();
    await finish(audited, 'model-version');
  });

  test("a version registered from runs:/ shows the signature read from the run's artifacts", async () => {
    await rest('POST', 'registered-models/create', { name: 'ui-model-from-run' });
    const source = `runs:/${data.long_run_id}/model`;
    await rest('POST', 'model-versions/create', { name: 'ui-model-from-run', source, run_id: data.long_run_id });
    const audited = await open('/models/ui-model-from-run/versions/1');
    const { page } = audited;
    await page.getByRole('table', { name: 'Signature inputs' }).getByRole('cell', { name: 'MedInc' }).waitFor();
    await finish(audited);
  });
});

describe('with --auth', () => {
  let secured;
  before(async () => { secured = await startServer({ auth: true }); });
  after(async () => { await secured?.stop(); });

  const adminAuth = { Authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` };
  /** A REST call as the admin, with Basic credentials as any client sends them. */
  async function asAdmin(method, endpoint, body) {
    const response = await fetch(`${secured.url}/api/${endpoint}`, {
      method, headers: { ...adminAuth, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: await response.json() };
  }

  /** Opens `#<hash>` signed out, signs in on the sign-in page, and waits for the page to show. */
  async function signedIn(hash, username, password) {
    const audited = await auditedPage(browser, secured.url);
    audited.expect(401, '/users/current');
    await audited.page.goto(`${secured.url}/#${hash}`);
    await audited.page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await audited.page.getByLabel('User name').fill(username);
    await audited.page.getByLabel('Password').fill(password);
    await audited.page.getByRole('button', { name: 'Sign in' }).click();
    await audited.page.getByText(`Signed in as ${username}`).waitFor();
    return audited;
  }

  test('the page loads for anyone, the data only with credentials', async () => {
    const page = await fetch(`${secured.url}/`);
    assert.equal(page.status, 200, 'the page itself is public');
    // Clients get the Basic challenge; the UI's own calls do not, or the browser would prompt.
    const refused = await fetch(`${secured.url}/ajax-api/2.0/mlflow/experiments/search`, { method: 'POST', body: '{}' });
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /^Basic /);
    const fromUi = await fetch(`${secured.url}/ajax-api/2.0/mlflow/users/current`, { headers: { 'X-Requested-With': 'ferroflow' } });
    assert.equal(fromUi.status, 401);
    assert.equal(fromUi.headers.get('www-authenticate'), null);
  });

  test('signing in starts an HttpOnly session cookie, signing out ends it', async () => {
    const audited = await auditedPage(browser, secured.url);
    const { page, context } = audited;
    audited.expect(401, '/users/current');
    await page.goto(`${secured.url}/#/experiments`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Sections' }).count(), 0, 'nothing but the sign-in form');
    await screenshot(page, 'sign-in');

    audited.expect(401, '/session/login');
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('Wrong user name or password.').waitFor();

    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('table', { name: 'Experiments' }).getByRole('link', { name: 'Default' }).waitFor();
    await page.getByText('Signed in as admin (admin)').waitFor();
    const session = (await context.cookies()).find((c) => c.name === 'ferroflow_session');
    assert.ok(session, 'a session cookie is set');
    assert.equal(session.httpOnly, true, 'scripts cannot read the session');
    assert.equal(session.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie.includes('ferroflow_session')), false);

    // A change made through the UI carries the CSRF token and goes through.
    await page.getByRole('button', { name: 'New experiment' }).click();
    await page.getByLabel('Experiment name').fill('made-in-the-browser');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'made-in-the-browser' }).waitFor();
    const audit = await asAdmin('GET', '2.0/ferroflow/audit/search?action=CreateExperiment');
    assert.equal(audit.body.events.at(-1).auth_method, 'session', JSON.stringify(audit.body.events.at(-1)));

    audited.expect(401, '/users/current');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal((await context.cookies()).some((c) => c.name === 'ferroflow_session'), false, 'the cookie is cleared');
    // The session is revoked on the server, not only forgotten by the browser.
    const replayed = await fetch(`${secured.url}/ajax-api/2.0/mlflow/users/current`, { headers: { Cookie: `ferroflow_session=${session.value}` } });
    assert.equal(replayed.status, 401);
    await finish(audited);
  });

  test('a cross-site POST forged with the session cookie is refused', async () => {
    const audited = await signedIn('/experiments', 'admin', ADMIN_PASSWORD);
    const { page } = audited;
    // Another site (another port is another origin) whose page posts to ferroflow, once with a
    // form the browser submits with the cookies and once with a no-cors fetch.
    const target = `${secured.url}/ajax-api/2.0/mlflow/experiments/create`;
    const attacker = createServer((request, response) => {
      response.setHeader('Content-Type', 'text/html');
      response.end(`<!doctype html><body>
        <form id="f" method="POST" enctype="text/plain" action="${target}">
          <input type="hidden" name='{"name":"forged-by-form","x":"' value='"}'></form>
        <script>
          fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include',
            body: JSON.stringify({ name: 'forged-by-fetch' }) }).finally(() => document.getElementById('f').submit());
        </script></body>`);
    });
    await new Promise((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    try {
      audited.expect(403, '/experiments/create');
      audited.expect(403, '/experiments/create');
      const forged = page.waitForResponse((r) => r.url() === target && r.request().resourceType() === 'document');
      await page.goto(`http://127.0.0.1:${attacker.address().port}/`);
      const answer = await forged;
      assert.equal(answer.status(), 403);
      assert.match(await answer.text(), /CSRF/);
    } finally {
      attacker.close();
    }
    for (const name of ['forged-by-form', 'forged-by-fetch']) {
      const found = await asAdmin('GET', `2.0/mlflow/experiments/get-by-name?experiment_name=${name}`);
      assert.equal(found.status, 404, `${name} was not created: ${JSON.stringify(found.body)}`);
    }
    const refusals = await asAdmin('GET', '2.0/ferroflow/audit/search?action=CreateExperiment&outcome=failure');
    assert.ok(refusals.body.events.filter((e) => e.status === 403 && e.auth_method === 'session').length >= 2, 'both refusals are audited');
    await finish(audited);
  });

  test('the admin section manages users, groups, grants and tokens, and searches the audit log', async () => {
    const audited = await signedIn('/experiments', 'admin', ADMIN_PASSWORD);
    const { page } = audited;
    page.on('dialog', (dialog) => dialog.accept());
    await page.getByRole('link', { name: 'Admin', exact: true }).click();
    await page.getByRole('heading', { name: 'Administration' }).waitFor();

    const newUser = page.getByRole('form', { name: 'New user' });
    await newUser.getByLabel('Username').fill('carol');
    await newUser.getByLabel('Password').fill('carol password 1');
    await newUser.getByRole('button', { name: 'Create user' }).click();
    const users = page.getByRole('table', { name: 'Users' });
    await users.getByRole('cell', { name: 'carol', exact: true }).waitFor();
    // The box shows the server's answer, so it changes once the change is made.
    await page.getByRole('checkbox', { name: 'Admin: carol' }).click();
    await page.getByRole('checkbox', { name: 'Admin: carol', checked: true }).waitFor();
    assert.equal((await asAdmin('GET', '2.0/mlflow/users/get?username=carol')).body.user.is_admin, true);
    await page.getByRole('checkbox', { name: 'Admin: carol' }).click();
    await page.getByRole('checkbox', { name: 'Admin: carol', checked: false }).waitFor();
    assert.equal((await asAdmin('GET', '2.0/mlflow/users/get?username=carol')).body.user.is_admin, false);
    await screenshot(page, 'admin-users');

    await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Groups' }).click();
    const newGroup = page.getByRole('form', { name: 'New group' });
    await newGroup.getByLabel('Group name').fill('analysts');
    await newGroup.getByRole('button', { name: 'Create group' }).click();
    await page.getByLabel('Username to add to analysts').fill('carol');
    await page.getByLabel('Username to add to analysts').press('Enter');
    await page.getByRole('list', { name: 'Members of analysts' }).getByText('carol').waitFor();
    const groups = (await asAdmin('GET', '2.0/ferroflow/groups')).body.groups;
    assert.deepEqual(groups.find((g) => g.name === 'analysts').members, ['carol']);

    await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Grants' }).click();
    const { experiment_id: id } = (await asAdmin('POST', '2.0/mlflow/experiments/create', { name: 'granted-experiment' })).body;
    const newGrant = page.getByRole('form', { name: 'New grant' });
    await newGrant.getByLabel('Principal kind').selectOption('group');
    await newGrant.getByLabel('Group name').fill('analysts');
    await newGrant.getByLabel('Experiment id').fill(id);
    await newGrant.getByLabel('Permission').selectOption('EDIT');
    await newGrant.getByRole('button', { name: 'Grant' }).click();
    await page.getByRole('button', { name: `Delete the grant of group analysts on experiment ${id}` }).waitFor();
    const held = await asAdmin('GET', `3.0/mlflow/users/permissions/get?username=carol&resource_type=experiment&resource_id=${id}`);
    assert.equal(held.body.permission, 'EDIT', JSON.stringify(held.body));
    await screenshot(page, 'admin-grants');

    await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'API tokens' }).click();
    const tokens = page.getByRole('table', { name: 'API tokens' });
    await tokens.getByRole('cell', { name: 'web session' }).first().waitFor();
    const newToken = page.getByRole('form', { name: 'New token' });
    await newToken.getByLabel('Token name').fill('ci-pipeline');
    await newToken.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByLabel('New token secret').inputValue();
    const bearer = await fetch(`${secured.url}/api/2.0/mlflow/users/current`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(bearer.status, 200, 'the token shown once works');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: /^Revoke token ci-pipeline/ }).click();
    await page.waitForLoadState('networkidle');
    const revoked = await fetch(`${secured.url}/api/2.0/mlflow/users/current`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(revoked.status, 401, 'a revoked token stops working');

    await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Audit log' }).click();
    const events = page.getByRole('table', { name: 'Audit events' });
    const seqs = async () => (await events.locator('tbody tr td:first-child').allTextContents()).map(Number);
    await events.locator('tbody tr').nth(1).waitFor();
    const newest = await seqs();
    assert.ok(newest.length > 10 && newest.every((seq, i) => i === 0 || seq < newest[i - 1]), `newest first: ${newest}`);
    await page.getByLabel('Order').selectOption('asc');
    await page.waitForFunction(() => document.querySelector('table[aria-label="Audit events"] tbody td')?.textContent === '1');
    assert.match(page.url(), /order=asc/);
    const filters = page.getByRole('search', { name: 'Filter audit events' });
    await filters.getByLabel('Action').fill('AddGroupMember');
    await filters.getByRole('button', { name: 'Search' }).click();
    await events.getByRole('cell', { name: 'AddGroupMember' }).first().waitFor();
    assert.match(page.url(), /action=AddGroupMember/, 'the filter is kept in the link');
    const actions = await events.locator('tbody tr').allTextContents();
    assert.ok(actions.length >= 1 && actions.every((row) => row.includes('AddGroupMember')), actions.join('\n'));
    await finish(audited, 'admin-audit');
  });

  test('a user who may only read is offered no edit controls', async () => {
    const post = async (endpoint, body) => {
      const { status, body: answer } = await asAdmin('POST', `2.0/mlflow/${endpoint}`, body);
      assert.equal(status, 200, `${endpoint}: ${JSON.stringify(answer)}`);
      return answer;
    };
    const { experiment_id: id } = await post('experiments/create', { name: 'admins-experiment' });
    const { run } = await post('runs/create', { experiment_id: id, run_name: 'admins-run' });
    await post('registered-models/create', { name: 'admins-model' });
    await post('users/create', { username: 'reader', password: 'reader password 1' });
    // A grant through a group counts as the user's own.
    const { experiment_id: shared } = await post('experiments/create', { name: 'shared-experiment' });
    assert.equal((await asAdmin('POST', '2.0/ferroflow/groups', { name: 'editors' })).status, 200);
    assert.equal((await asAdmin('POST', '2.0/ferroflow/groups/members/add', { group: 'editors', username: 'reader' })).status, 200);
    const grant = { principal_kind: 'group', principal: 'editors', resource_type: 'experiment', resource_id: shared, permission: 'EDIT' };
    assert.equal((await asAdmin('POST', '2.0/ferroflow/grants', grant)).status, 200);

    const reader = await signedIn('/experiments', 'reader', 'reader password 1');
    const { page } = reader;
    await page.getByRole('link', { name: 'admins-experiment' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Delete admins-experiment' }).count(), 0);
    await page.getByRole('button', { name: 'Delete shared-experiment' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Admin', exact: true }).count(), 0, 'no admin section for a reader');

    await page.getByRole('link', { name: 'admins-experiment' }).click();
    await page.getByRole('link', { name: 'admins-run' }).waitFor();
    await page.waitForLoadState('networkidle');
    assert.equal(await page.getByRole('button', { name: 'Delete', exact: true }).count(), 0);

    await page.getByRole('link', { name: 'admins-run' }).click();
    await page.getByRole('table', { name: 'Run tags' }).waitFor();
    await page.waitForLoadState('networkidle');
    assert.equal(await page.getByRole('button', { name: 'Add tag' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Rename' }).count(), 0);
    assert.match(await page.locator('dl.facts').textContent(), new RegExp(run.info.run_id));

    await page.goto(`${secured.url}/#/models/admins-model`);
    await page.getByRole('heading', { name: 'admins-model' }).waitFor();
    await page.waitForLoadState('networkidle');
    assert.equal(await page.getByRole('button', { name: 'Save description' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Add tag' }).count(), 0);
    await finish(reader);

    // The admin, on the same pages, has them.
    const admin = await signedIn(`/runs/${run.info.run_id}`, 'admin', ADMIN_PASSWORD);
    await admin.page.getByRole('button', { name: 'Add tag' }).waitFor();
    await admin.page.getByRole('button', { name: 'Rename' }).waitFor();
    await finish(admin);
  });

  test('a member of the auditor group reads the audit log, and manages nothing', async () => {
    assert.equal((await asAdmin('POST', '2.0/mlflow/users/create', { username: 'inspector', password: 'inspector password' })).status, 200);
    assert.equal((await asAdmin('POST', '2.0/ferroflow/groups', { name: 'auditor' })).status, 200);
    assert.equal((await asAdmin('POST', '2.0/ferroflow/groups/members/add', { group: 'auditor', username: 'inspector' })).status, 200);

    const inspector = await signedIn('/experiments', 'inspector', 'inspector password');
    const { page } = inspector;
    const sections = page.getByRole('navigation', { name: 'Sections' });
    await sections.getByRole('link', { name: 'Audit log' }).click();
    const events = page.getByRole('table', { name: 'Audit events' });
    // The request that made this user is in the log.
    await events.getByRole('cell', { name: 'CreateUser' }).first().waitFor();
    assert.equal(await sections.getByRole('link', { name: 'Admin', exact: true }).count(), 0);
    const tabs = page.getByRole('navigation', { name: 'Administration sections' });
    assert.deepEqual(await tabs.getByRole('link').allTextContents(), ['Audit log']);
    // The admin pages proper are not offered, and would be refused anyway.
    await page.goto(`${secured.url}/#/admin/users`);
    await page.getByText('Only admins manage users').waitFor();
    await finish(inspector);
  });
});
