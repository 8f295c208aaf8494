// Approvals that gate a Claude Code agent, decided in the browser: a permission request held by
// Flightdeck until an operator decides it in the /approvals inbox (at phone width), from the toast
// on any page, or on the session's page with an edited input; a message typed on the session's
// page reaching the agent at its next hook, once, and "Stop this agent". Screenshots of each.
import { expect, Page, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FlightdeckServer, TOKEN } from './support/server';

let server: FlightdeckServer;

test.beforeEach(async () => {
  server = await FlightdeckServer.start();
});

test.afterEach(async () => {
  await server.kill();
});

const shots = join(__dirname, '..', 'screenshots');

/** A Claude Code hook body of session `cc-1` in /w/shop. */
const hookBody = (event: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ hook_event_name: event, session_id: 'cc-1', cwd: '/w/shop', ...extra });

async function hook(event: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${server.url}/api/feeds/claude-code`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: hookBody(event, extra),
  });
}

/** What Claude Code reads in a hook's answer: the JSON, or '' for no decision. */
async function answer(response: Promise<Response>): Promise<unknown> {
  const text = await (await response).text();
  return text === '' ? '' : JSON.parse(text);
}

const bash = (command: string) => ({ tool_name: 'Bash', tool_input: { command, description: 'a command' } });

/** Signs the page in as Ann, as the login form does: the token and the name in cookies. */
async function signIn(page: Page): Promise<void> {
  await page.context().addCookies([
    { name: 'fd_token', value: TOKEN, url: server.url, httpOnly: true, sameSite: 'Lax' },
    { name: 'fd_name', value: 'Ann', url: server.url, httpOnly: true, sameSite: 'Lax' },
  ]);
}

async function live(page: Page, path: string): Promise<void> {
  await page.goto(`${server.url}${path}`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
}

test('a held permission request is denied with a reason from the inbox at phone width', async ({ browser }) => {
  await hook('SessionStart', { source: 'startup' });
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await signIn(page);
  await live(page, '/approvals');
  await expect(page.getByTestId('waiting')).toHaveText('Nothing is waiting for a decision.');

  const held = answer(hook('PermissionRequest', bash('git push --force origin main')));
  const card = page.locator('.approvals.inbox .approval').first();
  await expect(card).toContainText('Allow Bash: git push --force origin main?');
  await expect(card.getByTestId('approval-command')).toHaveText('git push --force origin main');
  await expect(card.getByTestId('countdown')).toHaveText(/expires in [45] m/);
  await expect(page.getByTestId('waiting')).toHaveText('1 waiting for a decision.');
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'approvals-inbox-390x844.png'), fullPage: true });

  await card.getByLabel('Reason (the agent reads it)').fill('not on main');
  await card.getByRole('button', { name: 'Deny' }).click();
  expect(await held).toEqual({ hookSpecificOutput: { hookEventName: 'PermissionRequest',
    decision: { behavior: 'deny', message: 'Denied by Ann in Flightdeck: not on main' } } });
  const decided = page.locator('.approvals.decided .approval').first();
  await expect(decided.getByTestId('approval-status')).toHaveText('rejected');
  await expect(decided).toContainText('rejected by Ann — not on main');
  await expect(page.getByTestId('waiting')).toHaveText('Nothing is waiting for a decision.');

  // The session's timeline tells the story.
  await live(page, '/sessions/cc-1');
  await expect(page.getByTestId('timeline')).toContainText('Answered Claude Code: deny, as Ann rejected after');
  await context.close();
});

test('a toast on any page approves a held request, and it leaves every page once decided', async ({ browser }) => {
  await hook('SessionStart', { source: 'startup' });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await signIn(page);
  await live(page, '/');
  const other = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await signIn(other);
  await live(other, '/agents');

  const held = answer(hook('PermissionRequest', bash('npm publish')));
  const toast = page.getByTestId('toast').filter({ hasText: 'Approval requested: Allow Bash: npm publish?' });
  await expect(toast).toBeVisible();
  const elsewhere = other.getByTestId('toast').filter({ hasText: 'npm publish' });
  await expect(elsewhere).toBeVisible();
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'approvals-toast-1280x800.png') });
  await toast.getByRole('button', { name: 'Approve' }).click();
  expect(await held).toEqual({ hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'allow' } } });
  await expect(toast).toHaveCount(0);
  await expect(elsewhere).toHaveCount(0);
});

test('on the session page: an edited input, approval for the session, a message delivered once, and stop', async ({ browser }) => {
  await hook('SessionStart', { source: 'startup' });
  await hook('UserPromptSubmit', { prompt: 'clean the build' });
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    const page = await browser.newPage({ viewport: { width, height } });
    await signIn(page);
    await live(page, '/sessions/cc-1');

    // Edited before approving: Claude Code runs the edited call.
    const edited = answer(hook('PermissionRequest', bash('rm -rf /')));
    const card = page.locator('.approval[data-status="pending"]');
    await expect(card.getByTestId('approval-command')).toHaveText('rm -rf /');
    await card.getByText('Edit the input before approving').click();
    await card.getByLabel('Input (JSON)').fill('{"command": "rm -rf ./build", "description": "a command"}');
    await card.getByRole('button', { name: 'Approve', exact: true }).click();
    expect(await edited).toEqual({ hookSpecificOutput: { hookEventName: 'PermissionRequest',
      decision: { behavior: 'allow', updatedInput: { command: 'rm -rf ./build', description: 'a command' } } } });
    await expect(page.locator('.approval').first()).toContainText('approved with an edited input by Ann');

    // For the rest of the session: what Claude Code offered goes back to it.
    const offered = [{ type: 'addRules', rules: [{ toolName: 'Bash', ruleContent: 'npm test:*' }], behavior: 'allow', destination: 'session' }];
    const remembered = answer(hook('PermissionRequest', { ...bash('npm test'), permission_suggestions: offered }));
    await page.locator('.approval[data-status="pending"]').getByRole('button', { name: 'Approve for this session' }).click();
    expect(await remembered).toEqual({ hookSpecificOutput: { hookEventName: 'PermissionRequest',
      decision: { behavior: 'allow', updatedPermissions: offered } } });

    // A message reaches the agent at its next hook, once, and the page says so.
    const text = `use pnpm (${width})`;
    await page.getByLabel('Message the agent as Ann').fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
    const mine = page.getByTestId('messages').locator('.message').filter({ hasText: text });
    await expect(mine.getByTestId('delivery')).toHaveText("waiting for the agent's next hook");
    if (width === 390) await page.screenshot({ path: join(shots, 'approvals-session-390x844.png'), fullPage: true });
    const ran = { tool_name: 'Bash', tool_input: { command: 'ls' }, tool_use_id: `t-${width}`, tool_response: {} };
    expect(await answer(hook('PostToolUse', ran))).toEqual({ hookSpecificOutput: { hookEventName: 'PostToolUse',
      additionalContext: `Message from Ann (via Flightdeck): ${text}` } });
    await expect(mine.getByTestId('delivery')).toHaveText('delivered to the agent (PostToolUse)');
    expect(await answer(hook('PostToolUse', ran))).toBe('');

    // Stop this agent: its next tool call is denied with the operator's words.
    await page.getByLabel('Message the agent as Ann').fill('wrong branch');
    await page.getByRole('button', { name: 'Stop this agent' }).click();
    await expect(page.getByTestId('messages').locator('.message[data-stop="true"]').last()).toContainText('wrong branch');
    const next = await answer(hook('PreToolUse', { ...bash('git commit'), tool_use_id: `c-${width}` }));
    expect(next).toEqual({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny',
      permissionDecisionReason: 'Ann asked you to stop, through Flightdeck: wrong branch' } });
    if (width === 1280) {
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, 'approvals-session-1280x800.png'), fullPage: true });
    }
    await page.close();
  }
});

test('the policy on the Settings page decides before anyone is asked; only an admin changes it', async ({ browser }) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await signIn(page);
  await live(page, '/settings');
  await expect(page.getByText('No rules: every permission request waits for a person.')).toBeVisible();
  const add = async (tool: string, input: string, action: string, reason = '') => {
    await page.getByLabel('Tools').fill(tool);
    await page.getByLabel('Input matches').fill(input);
    await page.getByLabel('Then', { exact: true }).first().selectOption(action);
    await page.getByLabel('Reason (told to the agent with a deny)').fill(reason);
    await page.getByRole('button', { name: 'Add rule' }).click();
  };
  await add('Read|Grep|Glob', '', 'allow');
  await add('Bash', 're:rm -rf', 'deny', 'never delete trees');
  const rules = page.getByTestId('rules').locator('.rule-text');
  await expect(rules).toHaveText(['allow Read|Grep|Glob', 'deny Bash matching `re:rm -rf`']);
  await expect(page.getByTestId('rules')).toContainText('never delete trees');
  await add('Bash', 're:(', 'ask');
  await expect(page.getByRole('alert')).toContainText('rule 3');

  expect(await answer(hook('PreToolUse', { tool_name: 'Grep', tool_input: { pattern: 'TODO' }, tool_use_id: 'g1' })))
    .toEqual({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'allow' } });
  const denied: any = await answer(hook('PermissionRequest', bash('rm -rf build')));
  expect(denied.hookSpecificOutput.decision.behavior).toBe('deny');
  expect(denied.hookSpecificOutput.decision.message).toContain('never delete trees');

  await page.getByRole('button', { name: 'Move rule 2 up' }).click();
  await expect(rules.first()).toHaveText('deny Bash matching `re:rm -rf`');
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'settings-1280x800.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(shots, 'settings-390x844.png'), fullPage: true });
  await page.getByRole('button', { name: 'Remove rule 1' }).click();
  await expect(rules).toHaveText(['allow Read|Grep|Glob']);

  // An agent's token sees the policy and cannot change it.
  const agent = server.cli(['token', 'create', '--name', 'agent', '--role', 'ingest']).trim().split('\n')[0];
  const other = await browser.newPage();
  await other.context().addCookies([{ name: 'fd_token', value: agent, url: server.url, httpOnly: true, sameSite: 'Lax' }]);
  await live(other, '/settings');
  await expect(other.getByTestId('why-not')).toContainText('only an admin changes the policy');
  await expect(other.getByRole('button', { name: 'Add rule' })).toBeDisabled();
});
