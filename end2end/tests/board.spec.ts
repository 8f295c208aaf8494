// The Kanban board: cards appear and move live, and the page heals itself after a server crash.
import { expect, Page, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { created, FlightdeckServer, signIn } from './support/server';

let server: FlightdeckServer;

test.beforeEach(async () => {
  server = await FlightdeckServer.start();
});

test.afterEach(async () => {
  await server.kill();
});

const connection = (page: Page) => page.getByTestId('connection');
const card = (page: Page, id: string) => page.locator(`.card[data-task-id="${id}"]`);
const column = (page: Page, status: string) => page.locator(`.column[data-status="${status}"]`);

async function openLiveBoard(page: Page) {
  await signIn(page, server);
  await page.goto(server.url);
  await expect(connection(page)).toHaveAttribute('data-state', 'live');
}

test('a posted task shows up on the board within a second', async ({ page }) => {
  const problems: string[] = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  await openLiveBoard(page);
  await server.post(created('e2e-1', 'Ship the foundation', { assignee: 'ada' }));
  const shown = card(page, 'e2e-1');
  await expect(shown).toBeVisible({ timeout: 1_000 });
  await expect(column(page, 'inbox').locator('[data-task-id="e2e-1"]')).toBeVisible();
  await expect(shown).toContainText('Ship the foundation');
  await expect(shown).toContainText('ada');
  await expect(connection(page)).toContainText(/Live · \d+ ms/);
  expect(problems, 'no errors or hydration warnings in the console').toEqual([]);
});

test('a card moves column on task:updated and shows progress', async ({ page }) => {
  await server.post(created('e2e-2', 'Move me'));
  await openLiveBoard(page);
  await expect(column(page, 'inbox').locator('[data-task-id="e2e-2"]')).toBeVisible();

  await server.post({ type: 'task:updated', payload: { id: 'e2e-2', status: 'review', progress: 80 } });
  await expect(column(page, 'review').locator('[data-task-id="e2e-2"]')).toBeVisible();
  await expect(column(page, 'inbox').locator('[data-task-id="e2e-2"]')).toHaveCount(0);
  await expect(card(page, 'e2e-2').getByRole('progressbar')).toHaveAttribute('aria-valuenow', '80');

  await server.post({ type: 'task:failed', payload: { id: 'e2e-2', error: 'tests failed' } });
  await expect(column(page, 'failed').locator('[data-task-id="e2e-2"]')).toContainText('tests failed');
});

test('the sub-agent counter follows sessions', async ({ page }) => {
  await openLiveBoard(page);
  const counter = page.getByTestId('active-subagents');
  await expect(counter).toHaveText('Active Sub-Agents: 0');
  await server.post({ type: 'session:started', payload: { id: 's1', kind: 'subagent' } });
  await expect(counter).toHaveText('Active Sub-Agents: 1');
  await server.post({ type: 'session:ended', payload: { id: 's1' } });
  await expect(counter).toHaveText('Active Sub-Agents: 0');
});

test('after a server crash the page reconnects by itself and misses nothing', async ({ page }) => {
  await server.post(created('before', 'Before the crash'));
  await openLiveBoard(page);
  await expect(card(page, 'before')).toBeVisible();
  // Proves there was no reload: a full page load would lose this.
  await page.evaluate(() => ((window as any).__sameDocument = true));

  await server.kill();
  await expect(connection(page)).toHaveAttribute('data-state', /reconnecting|offline/);
  await expect(connection(page)).toContainText('Reconnecting');

  await server.launch();
  // Posted right after the restart, while the page is still waiting to retry.
  await server.post([
    created('after', 'After the restart'),
    { type: 'task:assigned', payload: { id: 'before', agent: 'grace' } },
  ]);
  await expect(connection(page)).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  await expect(card(page, 'after')).toBeVisible();
  await expect(column(page, 'assigned').locator('[data-task-id="before"]')).toContainText('grace');
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
});

test('screenshots at laptop and phone widths', async ({ page }) => {
  await server.post([
    created('s-1', 'Fix flaky login test', { labels: ['bug'] }),
    created('s-2', 'Add CSV export to reports', { assignee: 'ada' }),
    created('s-3', 'Write onboarding guide'),
    created('s-4', 'Harden file upload checks'),
    { type: 'task:assigned', payload: { id: 's-2', agent: 'ada' } },
    { type: 'task:progress', payload: { id: 's-3', progress: 45 } },
    { type: 'task:updated', payload: { id: 's-4', status: 'review', progress: 90, pr_url: 'https://example.test/pr/7' } },
    { type: 'session:started', payload: { id: 'sub-1', kind: 'subagent', task_id: 's-3' } },
  ]);
  const dir = join(__dirname, '..', 'screenshots');
  mkdirSync(dir, { recursive: true });
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    await page.setViewportSize({ width, height });
    await openLiveBoard(page);
    await expect(card(page, 's-4')).toBeVisible();
    await page.screenshot({ path: join(dir, `board-${width}x${height}.png`), fullPage: true });
  }
});

test('hostile text renders inertly and a script link never reaches the board', async ({ page }) => {
  let dialogs = 0;
  page.on('dialog', async (d) => {
    dialogs += 1;
    await d.dismiss();
  });
  const title = '<script>alert("title")</script><img src=x onerror=alert(2)>';
  await server.post([created('evil', title)]);
  // A PR link that is not http(s) is refused at ingest, whole batch and all.
  const refused = await server
    .post([{ type: 'task:updated', payload: { id: 'evil', pr_url: 'javascript:alert(1)' } }])
    .then(() => '', (e: Error) => e.message);
  expect(refused).toContain('pr_url');
  await openLiveBoard(page);
  const shown = card(page, 'evil');
  await expect(shown.locator('.card-title')).toHaveText(title);
  // Every link is the card's own, to its task page: its title's, and its menu's until opened.
  const hrefs = (id: string) => card(page, id).locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  expect(await hrefs('evil')).toEqual(['/tasks/evil', '/tasks/evil']);
  // The same again, arriving live rather than server-rendered.
  await server.post([created('evil-live', title)]);
  const refusedLive = await server
    .post([{ type: 'task:updated', payload: { id: 'evil-live', pr_url: 'JavaScript:alert(3)' } }])
    .then(() => '', (e: Error) => e.message);
  expect(refusedLive).toContain('pr_url');
  await expect(card(page, 'evil-live').locator('.card-title')).toHaveText(title);
  expect(await hrefs('evil-live')).toEqual(['/tasks/evil-live', '/tasks/evil-live']);
  expect(dialogs).toBe(0);
  expect(await page.locator('img[src="x"]').count()).toBe(0);
});

test('a long column shows its newest 20 cards, counts them all, and shows more on demand', async ({ page }) => {
  const events = [];
  for (let i = 1; i <= 55; i++) {
    events.push(created(`old-${i}`, `Finished task ${i}`));
    events.push({ type: 'task:completed', payload: { id: `old-${i}` } });
  }
  await server.post(events);
  await openLiveBoard(page);
  const done = column(page, 'done');
  await expect(done.locator('.count')).toHaveText('55');
  await expect(done.locator('.card')).toHaveCount(20);
  await expect(done.locator('.more')).toHaveText('+ 35 older');
  await expect(done.locator('.card').first()).toContainText('Finished task 55');
  await expect(done.locator('.card.arrived'), 'cards that came with the page do not slide in').toHaveCount(0);
  await done.getByRole('button', { name: 'Show 20 more' }).click();
  await expect(done.locator('.card')).toHaveCount(40);
  await expect(done.locator('.more')).toHaveText('+ 15 older');

  await server.post([created('live-1', 'Live one'), { type: 'task:completed', payload: { id: 'live-1' } }]);
  await expect(done.locator('.count')).toHaveText('56');
  await expect(done.locator('.card').first()).toContainText('Live one');
  await expect(card(page, 'live-1')).toHaveClass(/\barrived\b/);
  await expect(done.locator('.card')).toHaveCount(40);
  await expect(done.locator('.more')).toHaveText('+ 16 older');
});

test('a task the page holds only in brief is fetched in full when a column comes to show it', async ({ page }) => {
  // The oldest of 25 tasks in progress is not drawn, so the page carries it in brief, without
  // its progress.
  const events: object[] = [created('brief-0', 'Oldest at work'), { type: 'task:progress', payload: { id: 'brief-0', progress: 40 } }];
  for (let i = 1; i <= 24; i++) events.push(created(`brief-${i}`, `Newer task ${i}`, { status: 'in_progress' }));
  await server.post(events);
  const fetched: string[] = [];
  page.on('request', (r) => r.url().endsWith('/api/board/tasks') && fetched.push(r.postData() ?? ''));
  await openLiveBoard(page);
  await expect(column(page, 'in_progress').locator('.count')).toHaveText('25');
  await expect(card(page, 'brief-0')).toHaveCount(0);
  expect(fetched, 'nothing fetched for a page as it was sent').toEqual([]);

  // It fails: the Failed column draws it at the top, with what only the task in full says.
  await server.post({ type: 'task:failed', payload: { id: 'brief-0', error: { message: 'disk full' } } });
  const failed = column(page, 'failed');
  await expect(failed.locator('.count')).toHaveText('1');
  await expect(card(page, 'brief-0')).toContainText('disk full');
  await expect(card(page, 'brief-0').getByRole('progressbar')).toHaveAttribute('aria-valuenow', '40');
  await expect(column(page, 'in_progress').locator('.count')).toHaveText('24');
  await expect(column(page, 'in_progress').locator('.card')).toHaveCount(20);
  expect(fetched.length, 'one fetch, for the one card').toBe(1);
});

test('an event committed between the server render and hydration still reaches the page', async ({ page }) => {
  await server.post(created('rendered', 'In the server render'));
  await signIn(page, server);
  // Hold the wasm until an event has been committed after the HTML was rendered.
  let posted = false;
  await page.route('**/pkg/flightdeck*.wasm', async (route) => {
    if (!posted) {
      posted = true;
      await server.post(created('between', 'Between render and live'));
    }
    await route.continue();
  });
  await page.goto(server.url);
  await expect(connection(page)).toHaveAttribute('data-state', 'live');
  expect(posted).toBe(true);
  await expect(card(page, 'rendered')).toBeVisible();
  await expect(card(page, 'between')).toBeVisible();
  await expect(card(page, 'between')).toHaveCount(1);
});

test('after a restore from another database the page reloads instead of resuming into it', async ({ page }) => {
  await server.post(created('old-1', 'From the first database'));
  await openLiveBoard(page);
  await expect(card(page, 'old-1')).toBeVisible();
  const other = await FlightdeckServer.start();
  await other.post([created('new-1', 'Restored one'), created('new-2', 'Restored two'), created('new-3', 'Restored three')]);
  await other.kill();
  await server.kill();
  server.restoreFrom(other);
  await server.launch();
  // Resuming from seq 1 of the first log would apply the other log's events after it; the page is
  // told to reload instead and shows the restored board whole.
  await expect(card(page, 'new-1')).toBeVisible({ timeout: 15_000 });
  await expect(card(page, 'old-1')).toHaveCount(0);
  await expect(page.locator('.card')).toHaveCount(3);
  await expect(connection(page)).toHaveAttribute('data-state', 'live');
});
