// seeds/000 (ticket engine): its Test 1 (a curl to the internal endpoint) and Test 3 (a whole
// execution), watched on the ticket list (the board) and the ticket's timeline, without a reload.
import { expect, Page, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { FlightdeckServer, ok, signIn, TOKEN } from './support/server';

let server: FlightdeckServer;

test.beforeEach(async () => {
  server = await FlightdeckServer.start();
});

test.afterEach(async () => {
  await server.kill();
});

const column = (page: Page, status: string) => page.locator(`.column[data-status="${status}"]`);
const ticketEvent = (body: Record<string, unknown>) => ok(server, 'POST', '/api/internal/ticket-event', body);

test('Test 1: the curl as written creates the ticket and the list shows it at once', async ({ page }) => {
  await signIn(page, server);
  await page.goto(server.url);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  // The document's curl, with this server's address and token.
  const out = execFileSync('curl', [
    '-s', '-X', 'POST', `${server.url}/api/internal/ticket-event`,
    '-H', 'Content-Type: application/json',
    '-H', `Authorization: Bearer ${TOKEN}`,
    '-d', '{\n    "ticketId": "TKT-TEST-001",\n    "event": "state_change",\n    "state": "in_progress",\n    "message": "Test broadcast"\n  }',
  ], { encoding: 'utf8' });
  expect(JSON.parse(out)).toMatchObject({ success: true, event: 'state_change' });
  const card = column(page, 'in_progress').locator('[data-task-id="TKT-TEST-001"]');
  await expect(card).toBeVisible();
  await expect(card).toContainText('Test broadcast');
});

test('Test 3: every state change and activity appears in the list and the timeline', async ({ page }) => {
  const loads: string[] = [];
  page.on('load', () => loads.push(page.url()));
  await ticketEvent({ ticketId: 'TKT-42', event: 'state_change', state: 'ready', title: 'Add rate limiting' });
  await signIn(page, server);
  await page.goto(`${server.url}/tasks/TKT-42?tab=activity`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  const timeline = page.getByTestId('timeline');
  const status = page.getByTestId('task-status');
  await expect(status).toHaveText('Inbox');

  await ticketEvent({ ticketId: 'TKT-42', event: 'state_change', state: 'assigned', actorId: 'forge-v3' });
  await expect(status).toHaveText('Assigned');
  await ticketEvent({ ticketId: 'TKT-42', event: 'activity', category: 'execution', message: 'Execution started',
    actorId: 'forge-v3', metadata: { trigger: 'engine_poll' } });
  await ticketEvent({ ticketId: 'TKT-42', event: 'progress', phase: 'vm_assigned', message: 'VM vm-17 assigned', vmId: 'vm-17' });
  await expect(status).toHaveText('In progress');
  await ticketEvent({ ticketId: 'TKT-42', event: 'activity', category: 'agent', message: 'Code generation completed',
    actorId: 'forge-v3', metadata: { files: 4 } });
  await ticketEvent({ ticketId: 'TKT-42', event: 'pr_created', prUrl: 'https://git.example.test/swarm/pull/42', branch: 'tkt-42' });
  await expect(status).toHaveText('Review');
  await ticketEvent({ ticketId: 'TKT-42', event: 'activity', category: 'review', message: 'Submitted for sentinel review' });
  await ticketEvent({ ticketId: 'TKT-42', event: 'state_change', state: 'done', phase: 'completed' });
  await expect(status).toHaveText('Done');
  await expect(timeline.locator('.entry .category')).toHaveText(['state', 'review', 'git', 'agent', 'execution', 'state', 'state']);
  await expect(timeline.locator('.entry').nth(2)).toContainText('PR created: https://git.example.test/swarm/pull/42');
  // A pull request raised a toast that leads to the ticket.
  await expect(page.getByTestId('toast').first()).toContainText('Pull request opened: Add rate limiting');

  await page.getByRole('tab', { name: 'Overview' }).click();
  await expect(page.getByTestId('vm')).toHaveText('vm-17');
  await expect(page.locator('.overview a.pr')).toHaveAttribute('href', 'https://git.example.test/swarm/pull/42');

  // The list (the board) agrees, reached without a reload.
  await page.getByRole('link', { name: 'Board' }).first().click();
  await expect(column(page, 'done').locator('[data-task-id="TKT-42"]')).toBeVisible();
  await ticketEvent({ ticketId: 'TKT-43', event: 'state_change', state: 'failed', error: 'VM boot timed out' });
  await expect(column(page, 'failed').locator('[data-task-id="TKT-43"]')).toContainText('VM boot timed out');
  // A ticket the page never saw is named by its id.
  await expect(page.getByTestId('toast').filter({ hasText: 'Failed: TKT-43 — VM boot timed out' })).toBeVisible();
  expect(loads.length).toBe(1);
});
