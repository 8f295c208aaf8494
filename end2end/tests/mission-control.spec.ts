// seeds/003 (Mission Control): its "Success Criteria" 1–7, played through its own endpoints while
// the operator watches, without a reload.
import { expect, Page, test } from '@playwright/test';
import { FlightdeckServer, ok, signIn } from './support/server';

let server: FlightdeckServer;

test.beforeEach(async () => {
  server = await FlightdeckServer.start();
});

test.afterEach(async () => {
  await server.kill();
});

const column = (page: Page, status: string) => page.locator(`.column[data-status="${status}"]`);

test('a task goes inbox → assigned → review with activities, a sub-agent and a deliverable, live', async ({ page }) => {
  const loads: string[] = [];
  page.on('load', () => loads.push(page.url()));
  await signIn(page, server);
  await page.goto(server.url);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  const counter = page.getByTestId('active-subagents');
  await expect(counter).toHaveText('Active Sub-Agents: 0');

  // 1. The user adds a task to the inbox.
  const task = await ok(server, 'POST', '/api/tasks', { title: 'Build a test page' });
  const card = page.locator(`.card[data-task-id="${task.id}"]`);
  await expect(column(page, 'inbox').locator(`[data-task-id="${task.id}"]`)).toBeVisible();

  // Charlie finds it in the inbox, triages, assigns and spawns a sub-agent.
  const inbox = await ok(server, 'GET', '/api/tasks?status=inbox');
  expect(inbox.map((t: { id: string }) => t.id)).toEqual([task.id]);
  await ok(server, 'POST', `/api/tasks/${task.id}/activities`, {
    activity_type: 'updated',
    message: 'Task triaged and assigned to Developer agent',
    agent_id: 'charlie',
  });
  await ok(server, 'PATCH', `/api/tasks/${task.id}`, { status: 'assigned' });
  // 2. It moves to ASSIGNED by itself.
  await expect(column(page, 'assigned').locator(`[data-task-id="${task.id}"]`)).toBeVisible();
  await ok(server, 'POST', `/api/tasks/${task.id}/subagent`, {
    openclaw_session_id: 'agent:main:subagent:7f3a',
    agent_name: 'Developer Sub-Agent',
  });
  // 3. The counter says one sub-agent works.
  await expect(counter).toHaveText('Active Sub-Agents: 1');
  await ok(server, 'POST', `/api/tasks/${task.id}/activities`, {
    activity_type: 'spawned',
    message: 'Spawned sub-agent for task execution',
    metadata: { session_id: 'agent:main:subagent:7f3a' },
  });

  // 4. The user opens the task and reads the activity log as it grows.
  await card.getByRole('link', { name: 'Build a test page' }).click();
  await expect(page).toHaveURL(new RegExp(`/tasks/${task.id}$`));
  await page.getByRole('tab', { name: /Activity/ }).click();
  const timeline = page.getByTestId('timeline');
  await expect(timeline.locator('.entry')).toHaveCount(2);
  await ok(server, 'POST', `/api/tasks/${task.id}/activities`, {
    activity_type: 'file_created',
    message: 'Created file: test-page.html',
  });
  await ok(server, 'POST', `/api/tasks/${task.id}/deliverables`, {
    deliverable_type: 'file',
    title: 'Test Page',
    path: '~/Documents/Shared/mission-control/test-page.html',
    description: 'HTML test page with styling and dynamic content',
  });
  await ok(server, 'POST', `/api/tasks/${task.id}/activities`, {
    activity_type: 'completed',
    message: 'Sub-agent completed task in 20 seconds',
  });
  await expect(timeline.locator('.entry .message')).toHaveText([
    'Sub-agent completed task in 20 seconds',
    'Created file: test-page.html',
    'Spawned sub-agent for task execution',
    'Task triaged and assigned to Developer agent',
  ]);

  // 5. The Deliverables tab links to test-page.html.
  await page.getByRole('tab', { name: /Deliverables/ }).click();
  const link = page.locator('.deliverable').getByRole('link', { name: 'Test Page' });
  await expect(link).toHaveAttribute('href', '/artifacts/test-page.html');

  // The sub-agent finishes: the Sessions tab and the counter follow.
  await ok(server, 'POST', `/api/tasks/${task.id}/subagent/agent:main:subagent:7f3a/complete`, { summary: 'done' });
  await page.getByRole('tab', { name: /Sessions/ }).click();
  await expect(page.locator('.session-status')).toHaveText('completed');
  await expect(counter).toHaveText('Active Sub-Agents: 0');

  // 6. The task moves to REVIEW in real time.
  await ok(server, 'PATCH', `/api/tasks/${task.id}`, { status: 'review' });
  await expect(page.getByTestId('task-status')).toHaveText('Review');
  await page.getByRole('link', { name: 'Board' }).first().click();
  await expect(column(page, 'review').locator(`[data-task-id="${task.id}"]`)).toBeVisible();

  // 7. All without refreshing the page: one document load, every move client-side.
  expect(loads.length).toBe(1);
});

test('the SSE stream speaks Mission Control event names in a browser', async ({ page }) => {
  await signIn(page, server);
  await page.goto(`${server.url}/login`);
  const seen = page.evaluate(
    () =>
      new Promise<string[]>((resolve) => {
        const types: string[] = [];
        const source = new EventSource('/api/events/stream?format=mission-control');
        source.onmessage = (e) => {
          types.push(JSON.parse(e.data).type);
          if (types.length === 3) {
            source.close();
            resolve(types);
          }
        };
        source.onopen = () => (window as unknown as { opened: boolean }).opened = true;
      }),
  );
  await page.waitForFunction(() => (window as unknown as { opened?: boolean }).opened === true);
  const task = await ok(server, 'POST', '/api/tasks', { title: 'Streamed' });
  await ok(server, 'PATCH', `/api/tasks/${task.id}`, { status: 'assigned' });
  await ok(server, 'POST', `/api/tasks/${task.id}/activities`, { activity_type: 'updated', message: 'hi' });
  expect(await seen).toEqual(['task_created', 'task_updated', 'activity_logged']);
});
