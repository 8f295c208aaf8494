// seeds/004 (agent harness): heartbeats stop and the agent turns stale on screen with the rule that
// fired; latency is shown; the event stream viewer pauses and resumes; the errors summary groups.
import { expect, test } from '@playwright/test';
import { FlightdeckServer, signIn } from './support/server';

let server: FlightdeckServer;

test.afterEach(async () => {
  await server.kill();
});

test('an agent whose heartbeats stop turns stale on screen, with its rule, and heals', async ({ page }) => {
  // Heartbeats every 500 ms: two missed (1 s of silence) make an agent stale.
  server = await FlightdeckServer.start({ FLIGHTDECK_AGENT_HEARTBEAT_MS: '500', FLIGHTDECK_HEALTH_CHECK_MS: '100' });
  await server.post([
    { type: 'task:created', payload: { id: 'h1', title: 'Harnessed work', assignee: 'ada' } },
    { type: 'agent:status', payload: { id: 'ada', status: 'working', task_id: 'h1', name: 'Ada' } },
  ]);
  await signIn(page, server);
  await page.goto(`${server.url}/agents`);
  await expect(page.getByTestId('connection')).toContainText(/Live · \d+ ms/);
  const agent = page.locator('.agent[data-agent="ada"]');
  for (let i = 0; i < 4; i++) {
    await server.post({ type: 'agent:heartbeat', payload: { id: 'ada' } });
    await page.waitForTimeout(300);
  }
  await expect(agent.getByTestId('health')).toHaveText('healthy');
  await expect(agent).toContainText('Current task: h1');
  // The heartbeats stop.
  await expect(agent.getByTestId('health')).toHaveText('stale', { timeout: 5_000 });
  await expect(agent.getByTestId('rule')).toHaveText(/^no heartbeat for 1 s$/);
  await expect(agent.locator('.beat time')).toHaveText(/\d+ s ago/);
  // Its task's card says so too, on the board.
  await page.getByRole('link', { name: 'Board' }).first().click();
  await expect(page.locator('.card[data-task-id="h1"] .card-health')).toContainText('agent stale');
  await server.post({ type: 'agent:heartbeat', payload: { id: 'ada' } });
  await expect(page.locator('.card[data-task-id="h1"] .card-health')).toHaveCount(0);
});

test('the event viewer shows the last events live, filters, pauses and resumes', async ({ page }) => {
  server = await FlightdeckServer.start();
  await server.post([
    { type: 'task:created', payload: { id: 'e1', title: 'One' } },
    { type: 'task:failed', payload: { id: 'e1', error: { message: 'suite timed out', kind: 'timeout' } } },
  ]);
  await signIn(page, server);
  await page.goto(`${server.url}/events`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  const list = page.getByTestId('event-list');
  await expect(list.locator('.event')).toHaveCount(2);
  await expect(page.locator('.error-group[data-kind="timeout"]')).toContainText('One');

  await server.post({ type: 'observability:event', payload: { message: 'scheduler tick', source: 'orchestrator' } });
  await expect(list.locator('.event').first()).toHaveAttribute('data-type', 'observability:event');
  await page.getByLabel('Type').selectOption('task:failed');
  await expect(list.locator('.event')).toHaveCount(1);
  await page.getByLabel('Type').selectOption('');
  await page.getByLabel('Topic').fill('task:e1');
  await expect(list.locator('.event')).toHaveCount(2);
  await page.getByLabel('Topic').fill('');

  await page.getByRole('button', { name: 'Pause' }).click();
  for (let i = 0; i < 3; i++) await server.post({ type: 'agent:heartbeat', payload: { id: `a${i}` } });
  await expect(page.getByTestId('held')).toHaveText('3 new');
  await expect(list.locator('.event')).toHaveCount(3);
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(list.locator('.event')).toHaveCount(6);

  await server.post([
    { type: 'task:created', payload: { id: 'e2', title: 'Two' } },
    { type: 'task:failed', payload: { id: 'e2', error: { message: 'again', kind: 'timeout' } } },
  ]);
  await expect(page.locator('.error-group[data-kind="timeout"] .count')).toHaveText('2');
});
