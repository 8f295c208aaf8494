// Operators act from the board (issue 29): seeds/003's criterion 1 played in the page, drag and the
// "Move to…" menu (by keyboard, and on a phone), two people moving one card at once, cancel and
// retry, a viewer's disabled controls, undo, and screenshots of it all. No reload anywhere.
import { Browser, BrowserContext, expect, Page, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { created, FlightdeckServer, ok, signIn, TOKEN } from './support/server';

let server: FlightdeckServer;

test.beforeEach(async () => {
  server = await FlightdeckServer.start();
});

test.afterEach(async () => {
  await server.kill();
});

const column = (page: Page, status: string) => page.locator(`.column[data-status="${status}"]`);
const card = (page: Page, id: string) => page.locator(`.card[data-task-id="${id}"]`);
const notice = (page: Page) => page.getByTestId('action-notice');

/** A board signed in through the login form with a name, as a person would; it fails the test if
 *  the page ever loads again. */
async function board(context: BrowserContext, name: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server.url}/login?next=/`);
  await page.getByLabel('Access token').fill(TOKEN);
  await page.getByLabel(/Your name/).fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  await page.evaluate(() => ((window as any).__sameDocument = true));
  return page;
}

async function noReload(page: Page) {
  expect(await page.evaluate(() => (window as any).__sameDocument), 'the page never reloaded').toBe(true);
}

async function twoBrowsers(browser: Browser): Promise<[Page, Page]> {
  return [await board(await browser.newContext(), 'Ann'), await board(await browser.newContext(), 'Bob')];
}

/** Opens a card's menu and presses one of its buttons, as a pointer would. */
async function menu(page: Page, id: string, button: string) {
  await card(page, id).locator('summary').click();
  await card(page, id).getByRole('button', { name: button, exact: true }).click();
}

async function timelineOf(page: Page, id: string) {
  await page.goto(`${server.url}/tasks/${id}?tab=activity`);
  return page.getByTestId('timeline');
}

test("003's criterion 1 in the page: a task added with the form shows in Inbox, and an agent moves it", async ({ browser }) => {
  const [one, two] = await twoBrowsers(browser);
  await one.getByText('New task', { exact: true }).click();
  const form = one.getByRole('form', { name: 'New task' });
  await form.getByLabel('Title').fill('Build a test page');
  await form.getByLabel('Description').fill('One page, with a form');
  await form.getByLabel('Labels').fill('web, demo');
  await form.getByRole('button', { name: 'Create task' }).click();
  await expect(notice(one)).toContainText('Created “Build a test page”');

  const tasks = await ok(server, 'GET', '/api/tasks?status=inbox');
  expect(tasks.map((t: { title: string }) => t.title)).toEqual(['Build a test page']);
  const id = tasks[0].id;
  for (const page of [one, two]) {
    await expect(column(page, 'inbox').locator(`[data-task-id="${id}"]`)).toContainText('Build a test page');
  }
  // The agent, through Mission Control's own endpoint, as it would.
  await ok(server, 'PATCH', `/api/tasks/${id}`, { status: 'assigned', assignee: 'charlie' });
  for (const page of [one, two]) {
    await expect(column(page, 'assigned').locator(`[data-task-id="${id}"]`)).toContainText('charlie');
    await noReload(page);
  }
});

test('a card dragged to Review moves in the other browser, and its timeline says who moved it', async ({ browser }) => {
  await server.post(created('drag-1', 'Drag me', { status: 'in_progress', assignee: 'ada' }));
  const [one, two] = await twoBrowsers(browser);
  await card(one, 'drag-1').dragTo(column(one, 'review'));
  await expect(column(two, 'review').locator('[data-task-id="drag-1"]')).toBeVisible();
  await expect(column(one, 'review').locator('[data-task-id="drag-1"]')).toBeVisible();
  await noReload(two);
  const timeline = await timelineOf(two, 'drag-1');
  await expect(timeline.locator('.entry').first()).toContainText('Moved to Review by Ann');
});

test('two people move one card at once: one wins, the other is told and sees the winner’s move', async ({ browser }) => {
  await server.post(created('race-1', 'Contested'));
  const [one, two] = await twoBrowsers(browser);
  for (const page of [one, two]) {
    await card(page, 'race-1').locator('summary').click();
    await expect(card(page, 'race-1').getByRole('button', { name: 'Review', exact: true })).toBeVisible();
  }
  // Both press in the same instant, each from the copy of the card it shows.
  const press = (page: Page, to: string) =>
    page.evaluate((label) => {
      const buttons = [...document.querySelectorAll('.card[data-task-id="race-1"] .card-menu button')];
      (buttons.find((b) => b.textContent === label) as HTMLButtonElement | undefined)?.click();
    }, to);
  await Promise.all([press(one, 'Review'), press(two, 'Done')]);
  await expect(notice(one).locator('.notice')).toBeVisible();
  await expect(notice(two).locator('.notice')).toBeVisible();
  const refused = [one, two].map((p) => notice(p).locator('.notice[data-refused="true"]'));
  const counts = await Promise.all(refused.map((r) => r.count()));
  expect([...counts].sort()).toEqual([0, 1]);
  const loser = counts[0] === 1 ? one : two;
  await expect(notice(loser)).toContainText(/was changed first \(task:updated by (Ann|Bob)\)/);
  const stored = await ok(server, 'GET', '/api/tasks/race-1');
  for (const page of [one, two]) {
    await expect(column(page, stored.status).locator('[data-task-id="race-1"]')).toBeVisible();
  }
});

test('keyboard only: open the menu, move, undo', async ({ page }) => {
  await server.post(created('keys-1', 'By keyboard'));
  await signIn(page, server);
  await page.goto(server.url);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  const summary = card(page, 'keys-1').locator('summary');
  await expect(summary).toHaveAccessibleName('Actions for By keyboard');
  await summary.focus();
  await page.keyboard.press('Enter');
  const review = card(page, 'keys-1').getByRole('button', { name: 'Review', exact: true });
  await expect(review).toBeVisible();
  // From the summary, Tab walks the menu's buttons: Assigned, In progress, Review.
  for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
  await expect(review).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(column(page, 'review').locator('[data-task-id="keys-1"]')).toBeVisible();
  const undo = notice(page).getByRole('button', { name: 'Undo' });
  await undo.focus();
  await page.keyboard.press('Enter');
  await expect(column(page, 'inbox').locator('[data-task-id="keys-1"]')).toBeVisible();
  await expect(notice(page)).toContainText('Undone.');
});

test('on a phone the menu moves a card', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await server.post(created('phone-1', 'On the go', { assignee: 'ada', status: 'assigned' }));
  await signIn(page, server);
  await page.goto(server.url);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  await menu(page, 'phone-1', 'In progress');
  await expect(column(page, 'in_progress').locator('[data-task-id="phone-1"]')).toBeVisible();
});

test('cancel, then retry: attempt 2 in Inbox, the first attempt’s error on the timeline', async ({ browser }) => {
  await server.post([
    created('retry-1', 'Flaky deploy', { assignee: 'ada', status: 'in_progress' }),
    { type: 'task:failed', payload: { id: 'retry-1', error: { message: 'smoke test red', kind: 'test_failure' } } },
  ]);
  const [page] = await twoBrowsers(browser);
  await expect(column(page, 'failed').locator('[data-task-id="retry-1"]')).toContainText('smoke test red');
  await menu(page, 'retry-1', 'Retry with ada');
  await expect(column(page, 'assigned').locator('[data-task-id="retry-1"]')).toContainText('attempt 2');
  await menu(page, 'retry-1', 'Cancel task');
  const cancelled = column(page, 'done').locator('[data-task-id="retry-1"]');
  await expect(cancelled).toHaveAttribute('data-status', 'cancelled');
  await expect(cancelled).toContainText('Cancelled by Ann');
  await menu(page, 'retry-1', 'Retry from Inbox');
  await expect(column(page, 'inbox').locator('[data-task-id="retry-1"]')).toContainText('attempt 3');
  const timeline = await timelineOf(page, 'retry-1');
  await expect(timeline).toContainText('Failed: smoke test red');
  await expect(timeline).toContainText('Cancelled by Ann');
  await expect(timeline).toContainText('Retried: back to the inbox by Ann');
});

test('selected cards move together, in one request', async ({ page }) => {
  await server.post([created('bulk-1', 'First'), created('bulk-2', 'Second'), created('bulk-3', 'Third')]);
  await signIn(page, server);
  await page.goto(server.url);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  await page.getByLabel('Select First').check();
  await page.getByLabel('Select Third').check();
  await expect(page.getByTestId('selected-count')).toHaveText('2 tasks selected');
  await page.getByRole('form', { name: 'Selected tasks' }).getByLabel('Move to').selectOption('review');
  await expect(column(page, 'review').locator('.card')).toHaveCount(2);
  await expect(column(page, 'inbox').locator('[data-task-id="bulk-2"]')).toBeVisible();
  await expect(notice(page)).toContainText('Moved 2 tasks to Review.');
});

test('the task page offers the same actions on its Overview', async ({ browser }) => {
  await server.post(created('page-1', 'Draft the spec', { labels: ['docs'] }));
  const [page] = await twoBrowsers(browser);
  await page.goto(`${server.url}/tasks/page-1`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  await page.evaluate(() => ((window as any).__sameDocument = true));
  const actions = page.getByRole('region', { name: 'Act on this task' });
  await actions.getByText('Edit', { exact: true }).click();
  const edit = actions.getByRole('form', { name: 'Edit task' });
  await edit.getByLabel('Title').fill('Draft the billing spec');
  await edit.getByLabel('Labels').fill('docs, billing');
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Draft the billing spec');
  await actions.getByRole('form', { name: 'Assign' }).getByLabel('Assign to').fill('grace');
  await actions.getByRole('button', { name: 'Assign', exact: true }).click();
  await expect(page.getByTestId('task-status')).toHaveText('Assigned');
  await actions.getByText('Move, cancel or retry').click();
  await actions.getByRole('button', { name: 'Review', exact: true }).click();
  await expect(page.getByTestId('task-status')).toHaveText('Review');
  await page.getByRole('tab', { name: /Activity/ }).click();
  const timeline = page.getByTestId('timeline');
  await expect(timeline.locator('.entry').first()).toContainText('Moved to Review by Ann');
  await expect(timeline).toContainText('Assigned to grace by Ann');
  await expect(timeline).toContainText('Edited the title, description, labels by Ann');
  await noReload(page);
});

test('without JavaScript: a task is created from the board and moved from its page', async ({ browser }) => {
  await server.post(created('plain-1', 'No script here'));
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, server);
  await page.goto(server.url);
  await page.getByText('New task', { exact: true }).click();
  const form = page.getByRole('form', { name: 'New task' });
  await form.getByLabel('Title').fill('Posted by a plain form');
  await form.getByRole('button', { name: 'Create task' }).click();
  await page.waitForURL(`${server.url}/**`);
  await expect(column(page, 'inbox')).toContainText('Posted by a plain form');
  // The card's menu leads to the task's page, whose menu is plain forms. (Without scripts the
  // cards' entry animation leaves Playwright's stability check waiting: these clicks skip it.)
  await card(page, 'plain-1').locator('summary').click({ force: true });
  await card(page, 'plain-1').getByRole('link', { name: /on the task’s page/ }).click({ force: true });
  await page.getByRole('region', { name: 'Act on this task' }).getByText('Move, cancel or retry').click();
  await page.getByRole('button', { name: 'Review', exact: true }).click();
  await expect(page.getByTestId('task-status')).toHaveText('Review');
  expect((await ok(server, 'GET', '/api/tasks/plain-1')).status).toBe('review');
  await context.close();
});

test('a viewer sees every control disabled, with the reason', async ({ page }) => {
  const viewer = server.cli(['token', 'create', '--name', 'auditor', '--role', 'viewer']).trim().split('\n')[0];
  await server.post(created('view-1', 'Look, do not touch'));
  await signIn(page, server, viewer);
  await page.goto(server.url);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  await page.getByText('New task', { exact: true }).click();
  await expect(page.getByRole('form', { name: 'New task' }).getByRole('button', { name: 'Create task' })).toBeDisabled();
  await expect(page.getByRole('form', { name: 'New task' })).toContainText('read-only viewer token');
  await page.getByText('New task', { exact: true }).click();
  await card(page, 'view-1').locator('summary').click();
  await expect(card(page, 'view-1').getByRole('button', { name: 'Review', exact: true })).toBeDisabled();
  await expect(card(page, 'view-1')).toContainText('read-only viewer token');
  await expect(page.getByLabel('Select Look, do not touch')).toBeDisabled();
});

test('screenshots of the board with its controls, at laptop and phone widths', async ({ browser }) => {
  await server.post([
    created('shot-1', 'Add login page', { assignee: 'ada', status: 'in_progress', labels: ['web'] }),
    created('shot-2', 'Write release notes', { labels: ['docs'] }),
    created('shot-3', 'Fix flaky test', { assignee: 'grace', status: 'assigned' }),
  ]);
  const dir = join(__dirname, '..', 'screenshots');
  mkdirSync(dir, { recursive: true });
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await board(context, 'Ann');
    await page.getByText('New task', { exact: true }).click();
    await page.getByRole('form', { name: 'New task' }).getByLabel('Title').fill('Triage the inbox');
    await page.screenshot({ path: join(dir, `acting-new-task-${width}x${height}.png`), fullPage: true });
    await page.getByText('New task', { exact: true }).click();
    await card(page, 'shot-2').locator('summary').click();
    await page.screenshot({ path: join(dir, `acting-menu-${width}x${height}.png`), fullPage: true });
    const to = width > 500 ? 'Review' : 'Done';
    await card(page, 'shot-2').getByRole('button', { name: to, exact: true }).click();
    await expect(notice(page)).toContainText(`Moved shot-2 to ${to}.`);
    // A move from a stale copy of the card, as a second person's would be: the page says why, and
    // the card stays where the log has it.
    await card(page, 'shot-1').locator('summary').click();
    await expect(card(page, 'shot-1').getByRole('button', { name: 'Done', exact: true })).toBeVisible();
    await page.evaluate(() => {
      const buttons = [...document.querySelectorAll('.card[data-task-id="shot-1"] .card-menu button')];
      const done = buttons.find((b) => b.textContent === 'Done') as HTMLButtonElement;
      (done.form!.querySelector('input[name="moves[0][seq]"]') as HTMLInputElement).value = '0';
      done.click();
    });
    await expect(notice(page).locator('.notice[data-refused="true"]')).toContainText('was changed first');
    await expect(column(page, 'in_progress').locator('[data-task-id="shot-1"]')).toBeVisible();
    await page.screenshot({ path: join(dir, `acting-conflict-${width}x${height}.png`), fullPage: true });
    await page.getByRole('link', { name: 'Fix flaky test' }).click();
    await page.getByRole('region', { name: 'Act on this task' }).getByText('Edit', { exact: true }).click();
    await page.screenshot({ path: join(dir, `acting-task-page-${width}x${height}.png`), fullPage: true });
    await context.close();
  }
});
