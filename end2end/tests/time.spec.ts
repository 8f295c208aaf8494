// The board at any past moment: a deep link rendered by the server, a step back to before a card
// moved (the card in its old column), a step forward, and back to Live without a reload.
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

const inColumn = (page: Page, status: string, id: string) =>
  page.locator(`.column[data-status="${status}"] .card[data-task-id="${id}"]`);

test('scrub back to before a card moved, step forward, return to Live with no reload', async ({ page, browser }) => {
  const first = (await server.post(created('tt-1', 'Migrate billing', { assignee: 'ada' }))).seqs[0];
  await server.post(created('tt-2', 'Write release notes'));
  const moved = (await server.post({ type: 'task:updated', payload: { id: 'tt-1', status: 'in_progress' } })).seqs[0];
  await server.post({ type: 'task:completed', payload: { id: 'tt-1', summary: 'done' } });

  // The deep link is rendered by the server: it reads right without JavaScript.
  const noScript = await browser.newContext({ javaScriptEnabled: false });
  const plain = await noScript.newPage();
  await signIn(plain, server);
  await plain.goto(`${server.url}/?at=${first}`);
  await expect(inColumn(plain, 'inbox', 'tt-1')).toBeVisible();
  await expect(plain.locator('[data-task-id="tt-2"]')).toHaveCount(0);
  await noScript.close();

  await signIn(page, server);
  await page.goto(`${server.url}/?at=${moved - 1}`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('moment')).toHaveText(`Seq ${moved - 1} of ${moved + 1}`);
  await expect(inColumn(page, 'inbox', 'tt-1')).toBeVisible();
  await page.evaluate(() => ((window as any).stayed = true));

  await page.getByRole('link', { name: 'Forward one event ▶' }).click();
  await expect(page.getByTestId('moment')).toHaveText(`Seq ${moved} of ${moved + 1}`);
  await expect(inColumn(page, 'in_progress', 'tt-1')).toBeVisible();
  await page.getByRole('link', { name: '◀ Back one event' }).click();
  await expect(inColumn(page, 'inbox', 'tt-1')).toBeVisible();

  const dir = join(__dirname, '..', 'screenshots');
  mkdirSync(dir, { recursive: true });
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: join(dir, `board-past-${width}x${height}.png`), fullPage: true });
  }

  await page.getByTestId('back-to-live').click();
  await expect(page.getByTestId('time-control')).toHaveCount(0);
  await expect(inColumn(page, 'done', 'tt-1')).toBeVisible();
  // Live again: a new event arrives by itself.
  await server.post(created('tt-3', 'After the return'));
  await expect(inColumn(page, 'inbox', 'tt-3')).toBeVisible();
  expect(await page.evaluate(() => (window as any).stayed), 'no reload on the way').toBe(true);
});

test('the past board plays through events it does not show, up to the present', async ({ page }) => {
  const first = (await server.post(created('bp-1', 'Tune the cache'))).seqs[0];
  // The board decodes only what it shows; the others still move the moment on.
  const note = { type: 'activity:logged', payload: { task_id: 'bp-1', category: 'tool', message: 'Warmed up' } };
  for (const event of [
    note,
    { type: 'task:progress', payload: { id: 'bp-1', progress: 50 } },
    { type: 'observability:event', payload: { message: 'a log line' } },
    { type: 'task:completed', payload: { id: 'bp-1', summary: 'tuned' } },
  ]) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    await server.post(event);
  }
  const head = (await server.post(note)).seqs[0];

  await signIn(page, server);
  await page.goto(`${server.url}/?at=${first}`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  await expect(inColumn(page, 'inbox', 'bp-1')).toBeVisible();
  await page.getByTestId('speed').selectOption('60');
  await page.getByTestId('play').click();
  await expect(inColumn(page, 'done', 'bp-1')).toBeVisible();
  await expect(page.getByText('Played up to the present.')).toBeVisible();
  await expect(page.getByTestId('moment')).toHaveText(`Seq ${head} of ${head}`);
  expect(page.url()).toContain(`/?at=${head}`);
});

test('a task page plays forward from a past moment at 60×, up to the present', async ({ page }) => {
  const first = (await server.post(created('pt-1', 'Rotate the keys'))).seqs[0];
  await server.post(created('pt-2', 'Elsewhere on the board'));
  for (const event of [
    { type: 'task:assigned', payload: { id: 'pt-1', agent: 'ada' } },
    { type: 'task:updated', payload: { id: 'pt-1', status: 'in_progress' } },
    { type: 'activity:logged', payload: { task_id: 'pt-1', category: 'tool', message: 'Rotated 3 keys' } },
    { type: 'task:completed', payload: { id: 'pt-1', summary: 'rotated' } },
  ]) {
    // Real gaps between the events: play waits for each, divided by the speed.
    await new Promise((resolve) => setTimeout(resolve, 400));
    await server.post(event);
  }
  const head = (await server.post(created('pt-3', 'Last'))).seqs[0];

  await signIn(page, server);
  await page.goto(`${server.url}/tasks/pt-1?at=${first}`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('task-status')).toHaveText('Inbox');
  await expect(page.getByTestId('moment')).toHaveText(`Seq ${first} of ${head}`);
  await page.getByTestId('speed').selectOption('60');
  await page.getByTestId('play').click();
  await expect(page.getByTestId('task-status')).toHaveText('Done');
  await expect(page.getByText('Played up to the present.')).toBeVisible();
  await expect(page.getByTestId('play')).toHaveText('▶ Play');
  // The address followed: a reload lands on the task's last event, rendered by the server.
  expect(page.url()).toContain(`/tasks/pt-1?at=${head - 1}`);
  await page.getByRole('tab', { name: /Activity/ }).click();
  await expect(page.getByText('Rotated 3 keys')).toBeVisible();

  // Drag the slider back to the first event: the page as it was then.
  await page.locator('.time-control input[type="range"]').fill(String(first));
  await expect(page.getByTestId('moment')).toHaveText(`Seq ${first} of ${head}`);
  await expect(page.getByTestId('task-status')).toHaveText('Inbox');

  const dir = join(__dirname, '..', 'screenshots');
  mkdirSync(dir, { recursive: true });
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: join(dir, `task-past-${width}x${height}.png`), fullPage: true });
  }
  await page.getByTestId('back-to-live').click();
  await expect(page.getByTestId('time-control')).toHaveCount(0);
  await expect(page.getByTestId('task-status')).toHaveText('Done');
});
