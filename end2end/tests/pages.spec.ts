// Every page, looked at: screenshots at laptop and phone widths from a realistic fleet, every
// control labelled, and the main controls reachable with the keyboard alone.
import { expect, Page, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EventBody, FlightdeckServer, signIn } from './support/server';

let server: FlightdeckServer;

test.beforeAll(async () => {
  server = await FlightdeckServer.start();
  const fleet: EventBody[] = [
    { type: 'agent:status', payload: { id: 'ada', status: 'working', task_id: 't-auth', name: 'Ada' } },
    { type: 'agent:status', payload: { id: 'grace', status: 'idle' } },
    { type: 'task:created', payload: { id: 't-auth', title: 'Harden the login flow', labels: ['backend', 'security'] } },
    { type: 'task:created', payload: { id: 't-docs', title: 'Write the onboarding guide', labels: ['docs'] } },
    { type: 'task:created', payload: { id: 't-ci', title: 'Speed up CI', labels: ['infra'] } },
    { type: 'task:created', payload: { id: 't-new', title: 'Triage bug reports' } },
    { type: 'task:assigned', payload: { id: 't-auth', agent: 'ada' } },
    { type: 'task:progress', payload: { id: 't-auth', progress: 60, phase: 'executing', message: 'Agent generating code…', vm_id: 'vm-7' } },
    { type: 'session:started', payload: { id: 's-auth', kind: 'subagent', task_id: 't-auth', agent: 'ada' } },
    { type: 'activity:logged', payload: { task_id: 't-auth', category: 'execution', message: 'Execution started', actor: 'ada' } },
    { type: 'activity:logged', payload: { task_id: 't-auth', category: 'git', message: 'Pushed 3 commits', actor: 'ada' } },
    { type: 'deliverable:added', payload: { task_id: 't-auth', kind: 'url', title: 'Design notes', path: 'https://docs.example.test/auth' } },
    { type: 'deliverable:added', payload: { task_id: 't-auth', kind: 'artifact', title: 'Coverage report', path: 'reports/coverage.html' } },
    { type: 'task:updated', payload: { id: 't-auth', pr_url: 'https://git.example.test/pull/12', branch: 'agent/t-auth',
      usage: { input_tokens: 12000, output_tokens: 3400, cost_usd: 0.42 } } },
    { type: 'task:assigned', payload: { id: 't-docs', agent: 'grace' } },
    { type: 'task:completed', payload: { id: 't-docs', summary: 'merged' } },
    { type: 'task:failed', payload: { id: 't-ci', error: { message: 'build timed out after 20 minutes', kind: 'timeout', context: { step: 'cargo test' } } } },
    { type: 'observability:event', payload: { message: 'scheduler tick', source: 'orchestrator' } },
    { type: 'approval:requested', payload: { id: 'ap-auth', task_id: 't-auth', title: 'Merge the login changes?', ttl_ms: 3600000 } },
  ];
  await server.post(fleet);
});

test.afterAll(async () => {
  await server.kill();
});

const pages = [
  ['board', '/'],
  ['task', '/tasks/t-auth'],
  ['task-failed', '/tasks/t-ci'],
  ['task-activity', '/tasks/t-auth?tab=activity'],
  ['task-deliverables', '/tasks/t-auth?tab=deliverables'],
  ['task-sessions', '/tasks/t-auth?tab=sessions'],
  ['task-approvals', '/tasks/t-auth?tab=approvals'],
  ['agents', '/agents'],
  ['approvals', '/approvals'],
  ['settings', '/settings'],
  ['events', '/events'],
];

async function open(page: Page, path: string) {
  await signIn(page, server);
  await page.goto(`${server.url}${path}`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
}

test('every page at laptop and phone widths, with no console errors', async ({ page }) => {
  const problems: string[] = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  const dir = join(__dirname, '..', 'screenshots');
  mkdirSync(dir, { recursive: true });
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    await page.setViewportSize({ width, height });
    for (const [name, path] of pages) {
      await open(page, path);
      await expect(page.getByTestId('active-subagents')).toHaveText('Active Sub-Agents: 1');
      await page.screenshot({ path: join(dir, `${name}-${width}x${height}.png`), fullPage: true });
    }
  }
  expect(problems).toEqual([]);
});

test('every control has a name and the main ones are reachable by keyboard', async ({ page }) => {
  for (const [, path] of pages) {
    await open(page, path);
    // Visible ones: a link inside a closed <details> has no name until it is opened.
    for (const control of await page.locator('input:not([type=hidden]), select, button, a[href]').filter({ visible: true }).all()) {
      await expect(control).toHaveAccessibleName(/\S/);
    }
  }
  // A task's approvals are on its page, decidable there.
  await open(page, '/tasks/t-auth?tab=approvals');
  await expect(page.locator('.approval[data-approval="ap-auth"]')).toContainText('Merge the login changes?');
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.locator('.approval[data-approval="ap-auth"]').getByTestId('approval-status')).toHaveText('approved');
  await open(page, '/');
  const reached = new Set<string>();
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    reached.add(await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el ? `${el.tagName.toLowerCase()}:${el.getAttribute('name') ?? el.textContent?.trim() ?? ''}` : '';
    }));
  }
  for (const expected of ['input:q', 'select:agent', 'select:label', 'a:Agents', 'a:Harden the login flow']) {
    expect([...reached], `Tab reaches ${expected}`).toContain(expected);
  }
  // The filters narrow the board: by text, by agent, by label.
  const filters = page.getByRole('search', { name: 'Filter tasks' });
  await filters.getByLabel('Search').fill('login');
  await expect(page.locator('.card')).toHaveCount(1);
  await filters.getByLabel('Search').fill('');
  await expect(page.locator('.card')).toHaveCount(4);
  await filters.getByLabel('Agent').selectOption('grace');
  await expect(page.locator('.card')).toHaveCount(1);
  await expect(page.locator('.card')).toHaveAttribute('data-task-id', 't-docs');
  await filters.getByLabel('Agent').selectOption('');
  await filters.getByLabel('Label').selectOption('infra');
  await expect(page.locator('.card')).toHaveCount(1);
  await expect(page.locator('.card')).toHaveAttribute('data-task-id', 't-ci');
});
