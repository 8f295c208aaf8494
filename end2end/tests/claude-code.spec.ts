// The Claude Code feed, as its user sees it: hooks posted as Claude Code posts them, and the
// session's page following along live — a tool call running, then failed or succeeded with its
// duration, a permission prompt waiting and then answered, a sub-agent appearing and finishing.
import { expect, test } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlightdeckServer, signIn } from './support/server';

const SESSION = '3f6c2a9e-8d41-4b7a-9c0e-5b2d7e1f4a60';
const recorded: string[] = readFileSync(join(__dirname, '..', '..', 'tests', 'fixtures', 'claude-code', 'session.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '');

let server: FlightdeckServer;

test.beforeEach(async () => {
  server = await FlightdeckServer.start();
});

test.afterEach(async () => {
  await server.kill();
});

async function hook(line: string): Promise<void> {
  const response = await fetch(`${server.url}/api/feeds/claude-code`, {
    method: 'POST',
    headers: { authorization: 'Bearer e2e-token-0123456789', 'content-type': 'application/json' },
    body: line,
  });
  expect(response.status, line).toBe(204);
  expect(await response.text()).toBe('');
}

/** Held permission requests of the recording, answered once the terminal's answer shows. */
const held: Promise<Response>[] = [];

/** Posts a permission request, which Flightdeck holds, and waits until its approval is stored. */
async function holdRequest(line: string): Promise<void> {
  const asked = async () => (await (await fetch(`${server.url}/api/approvals?status=pending`, {
    headers: { authorization: 'Bearer e2e-token-0123456789' },
  })).json()).length;
  const before = await asked();
  held.push(fetch(`${server.url}/api/feeds/claude-code`, {
    method: 'POST',
    headers: { authorization: 'Bearer e2e-token-0123456789', 'content-type': 'application/json' },
    body: line,
  }));
  await expect.poll(asked).toBe(before + 1);
}

/** Posts the recording up to the hook named `until` (included). */
async function playUntil(from: number, until: string): Promise<number> {
  for (let i = from; i < recorded.length; i++) {
    if (JSON.parse(recorded[i]).hook_event_name === 'PermissionRequest') await holdRequest(recorded[i]);
    else await hook(recorded[i]);
    if (JSON.parse(recorded[i]).hook_event_name === until) return i + 1;
  }
  throw new Error(`no ${until} after hook ${from}`);
}

test('a Claude Code session, live on its page: tool calls, a permission prompt, a sub-agent', async ({ page }) => {
  let next = await playUntil(0, 'SessionStart');
  await signIn(page, server);
  await page.goto(`${server.url}/sessions/${SESSION}`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Claude Code · shop');

  const entry = (text: string) => page.getByTestId('timeline').locator('.entry').filter({ hasText: text });
  next = await playUntil(next, 'PreToolUse'); // the prompt, then Read
  await expect(page.getByTestId('session-message')).toContainText('Add a --dry-run flag');
  await expect(entry('Read: /home/ann/src/shop/scripts/deploy.sh')).toHaveAttribute('data-status', 'running');
  next = await playUntil(next, 'PostToolUse');
  await expect(entry('Read: /home/ann/src/shop/scripts/deploy.sh')).toHaveAttribute('data-status', 'succeeded');

  next = await playUntil(next, 'PostToolUseFailure'); // the task, then npm test fails
  await expect(entry('Bash: npm test')).toHaveAttribute('data-status', 'failed');

  next = await playUntil(next, 'SubagentStart');
  const subagents = page.getByTestId('subagents');
  await expect(subagents).toContainText('Explore · running');
  await expect(page.getByTestId('active-subagents')).toHaveText('Active Sub-Agents: 1');
  next = await playUntil(next, 'SubagentStop');
  await expect(subagents).toContainText('Explore · completed');
  await expect(page.getByTestId('active-subagents')).toHaveText('Active Sub-Agents: 0');

  next = await playUntil(next, 'Notification'); // the dry run asks for permission
  const approval = page.locator('.approval').filter({ hasText: 'Allow Bash: rm -rf dist' });
  await expect(approval.getByTestId('approval-status')).toHaveText('pending');
  next = await playUntil(next, 'PostToolUse');
  await expect(approval.getByTestId('approval-status')).toHaveText('approved');
  await expect(entry('Bash: rm -rf dist')).toContainText('1 s');
  // The terminal answered first: the held request is released with no decision.
  const released = await held.pop()!;
  expect([released.status, await released.text()]).toEqual([204, '']);

  await playUntil(next, 'SessionEnd');
  await expect(page.getByTestId('session-ended')).toBeVisible();
  await expect(entry('Added --dry-run to scripts/deploy.sh')).toBeVisible();

  const dir = join(__dirname, '..', 'screenshots');
  mkdirSync(dir, { recursive: true });
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: join(dir, `claude-code-session-${width}x${height}.png`), fullPage: true });
  }
});
