// What the browser downloads: the board comes with the main wasm, gzipped; every other page's code
// comes in chunks fetched when the page is first shown, by a link or by opening it directly; so
// does the board at a past moment.
import { expect, Page, Response, test } from '@playwright/test';
import { created, FlightdeckServer, signIn } from './support/server';

let server: FlightdeckServer;

test.beforeEach(async () => {
  server = await FlightdeckServer.start();
});

test.afterEach(async () => {
  await server.kill();
});

/** Every wasm response the page receives, as it arrives. */
function wasmResponses(page: Page): Response[] {
  const seen: Response[] = [];
  page.on('response', (r) => new URL(r.url()).pathname.endsWith('.wasm') && seen.push(r));
  return seen;
}

const named = (seen: Response[], part: string) => seen.filter((r) => new URL(r.url()).pathname.includes(part));

test('the board loads only the main wasm, gzipped; a task page fetches its own chunk when opened', async ({ page }) => {
  await server.post(created('b1', 'Split the bundle'));
  await signIn(page, server);
  const seen = wasmResponses(page);
  await page.goto(server.url);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');

  const main = named(seen, '/pkg/flightdeck.');
  expect(main).toHaveLength(1);
  expect(main[0].headers()['content-encoding']).toBe('gzip');
  expect(main[0].headers()['content-type']).toBe('application/wasm');
  expect(named(seen, 'split_'), 'no other page code for the board').toEqual([]);

  // A link to the task: its chunk comes now, and the page it draws is live.
  await page.locator('.card[data-task-id="b1"]').getByRole('link', { name: 'Split the bundle' }).click();
  await expect(page).toHaveURL(/\/tasks\/b1$/);
  await expect(page.getByTestId('task-status')).toHaveText('Inbox');
  expect(named(seen, 'split___task_view').length).toBe(1);
  await server.post({ type: 'task:updated', payload: { id: 'b1', status: 'review' } });
  await expect(page.getByTestId('task-status')).toHaveText('Review');
});

test('a page opened directly loads its chunk before it hydrates, and is live', async ({ page }) => {
  const problems: string[] = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  await server.post(created('b2', 'Opened directly'));
  await signIn(page, server);
  const seen = wasmResponses(page);
  await page.goto(`${server.url}/tasks/b2`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  expect(named(seen, 'split___task_view').length).toBe(1);
  expect(named(seen, 'split___session_view'), 'only this page').toEqual([]);
  await server.post({ type: 'task:updated', payload: { id: 'b2', status: 'assigned' } });
  await expect(page.getByTestId('task-status')).toHaveText('Assigned');
  expect(problems, 'no errors or hydration warnings in the console').toEqual([]);
});

test('the past board comes in a chunk of its own: opened directly it loads it before it hydrates', async ({ page }) => {
  const problems: string[] = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  const first = (await server.post(created('b3', 'Back then'))).seqs[0];
  await server.post(created('b4', 'Later'));
  await signIn(page, server);
  const seen = wasmResponses(page);
  await page.goto(`${server.url}/?at=${first}`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  expect(named(seen, 'split_past_board').length).toBe(1);
  await expect(page.getByTestId('moment')).toHaveText(`Seq ${first} of ${first + 1}`);
  await expect(page.locator('[data-task-id="b4"]')).toHaveCount(0);

  // Hydrated: the time control's links move without a reload, to the live board and back again.
  await page.getByTestId('back-to-live').click();
  await expect(page.locator('.card[data-task-id="b4"]')).toBeVisible();
  await page.goBack();
  await expect(page.getByTestId('past-board')).toBeVisible();
  await expect(page.locator('[data-task-id="b4"]')).toHaveCount(0);
  expect(named(seen, 'split_past_board').length, 'loaded once').toBe(1);
  expect(problems, 'no errors or hydration warnings in the console').toEqual([]);
});

test("the site's files are named by their content and kept for good: a second visit loads none of them again", async ({ page }) => {
  await server.post(created('c1', 'Cached'));
  await signIn(page, server);
  const seen: Response[] = [];
  page.on('response', (r) => new URL(r.url()).pathname.startsWith('/pkg/') && seen.push(r));
  await page.goto(server.url);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  const hashed = /^\/pkg\/flightdeck\.[A-Za-z0-9_-]{22}\.(wasm|js|css)$/;
  const mains = seen.filter((r) => hashed.test(new URL(r.url()).pathname));
  expect(mains.map((r) => new URL(r.url()).pathname.split('.').pop()).sort()).toEqual(['css', 'js', 'wasm']);
  for (const r of seen) {
    expect(r.headers()['cache-control'], r.url()).toBe('public, max-age=31536000, immutable');
  }

  // Another visit: the page is asked for again, the files come from the browser's cache.
  await page.goto(`${server.url}/?again`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  const fetched = await page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .map((e) => e as PerformanceResourceTiming)
      .filter((e) => new URL(e.name).pathname.startsWith('/pkg/'))
      .map((e) => ({ name: new URL(e.name).pathname, bytes: e.transferSize })),
  );
  expect(fetched.length).toBeGreaterThan(0);
  expect(fetched.filter((f) => f.bytes > 0), 'nothing under /pkg crossed the network').toEqual([]);
});
