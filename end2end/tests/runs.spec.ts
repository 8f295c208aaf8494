// seeds/002 (sprint runner): a batch played with the document's own event names draws its chart,
// live, and the page shows cycles and history.
import { expect, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EventBody, FlightdeckServer, signIn } from './support/server';

let server: FlightdeckServer;

test.beforeEach(async () => {
  server = await FlightdeckServer.start();
});

test.afterEach(async () => {
  await server.kill();
});

const e = (type: string, payload: Record<string, unknown>): EventBody => ({ type, payload });
const ids = (story: string, command: string) => ({ story_key: story, command, task_id: `${story}-${command}` });

test('a batch in the sprint runner names draws its chart live', async ({ page }) => {
  await signIn(page, server);
  await page.goto(`${server.url}/runs`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  await expect(page.getByText('No batch has run yet.')).toBeVisible();

  await server.post([
    e('batch:start', { batch_id: 42, max_cycles: 'all' }),
    e('cycle:start', { cycle_number: 1, story_keys: ['5-SR-5', '5-SR-6'] }),
    e('command:start', ids('5-SR-5', 'create-story')),
  ]);
  await expect(page.getByTestId('batch-status')).toHaveText('running');
  const chart = page.getByTestId('run-chart');
  await expect(chart.locator('.bar')).toHaveCount(1);
  await expect(chart.locator('.bar').first()).toHaveAttribute('data-status', 'running');

  await server.post([
    e('command:progress', { ...ids('5-SR-5', 'create-story'), message: 'drafting' }),
    e('command:end', { ...ids('5-SR-5', 'create-story'), status: 'success', metrics: { duration_ms: 900 } }),
    e('command:start', ids('5-SR-6', 'dev-story')),
    e('command:end', { ...ids('5-SR-6', 'dev-story'), status: 'error' }),
    e('error', { type: 'dev_failed', message: 'tests did not pass' }),
    e('story:status', { story_key: '5-SR-5', old_status: 'drafted', new_status: 'ready' }),
    e('cycle:end', { cycle_number: 1, completed_stories: ['5-SR-5'] }),
  ]);
  await expect(chart.locator('.bar')).toHaveCount(2);
  await expect(chart.locator('.bar[data-status="success"]')).toHaveCount(1);
  await expect(chart.locator('.bar[data-status="error"]')).toHaveCount(1);
  await expect(chart.locator('.chart-story')).toHaveText(['5-SR-5', '5-SR-6']);
  await expect(page.locator('.cycle')).toContainText('Cycle 1');
  await expect(page.locator('.cycle')).toContainText('1/2 stories done');

  await server.post(e('batch:end', { batch_id: 42, cycles_completed: 1, status: 'completed' }));
  await expect(page.getByTestId('batch-status')).toHaveText('completed');
  await expect(page.locator('.history-table tbody tr')).toHaveCount(1);

  // Server-rendered: the chart is in the HTML before any script runs.
  const html = await (await fetch(`${server.url}/runs`, { headers: { cookie: 'fd_token=e2e-token-0123456789' } })).text();
  expect(html).toContain('data-testid="run-chart"');
  expect((html.match(/class="bar"/g) ?? []).length).toBe(2);

  const dir = join(__dirname, '..', 'screenshots');
  mkdirSync(dir, { recursive: true });
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: join(dir, `runs-${width}x${height}.png`), fullPage: true });
  }
});
