// seeds/001 (HITL design sessions): two tabs on one session stay in sync, an approval with a 3 s
// expiry turns to "timeout" on screen, a decision in one tab shows in the other, a viewer cannot
// decide, and the page survives a server crash by itself.
import { BrowserContext, expect, Page, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FlightdeckServer, signIn } from './support/server';

let server: FlightdeckServer;

test.beforeEach(async () => {
  server = await FlightdeckServer.start({ FLIGHTDECK_APPROVAL_CHECK_MS: '100' });
  await server.post([
    { type: 'session:started', payload: { id: 'd1', kind: 'design', title: 'Billing v2', agent: 'clarifier' } },
    { type: 'session:message', payload: { id: 'd1', role: 'agent', author: 'clarifier', text: 'Which currencies?' } },
  ]);
});

test.afterEach(async () => {
  await server.kill();
});

/** A tab signed in through the login form, with a name, as a person would. */
async function tab(context: BrowserContext, name: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server.url}/login?next=/sessions/d1`);
  await page.getByLabel('Access token').fill('e2e-token-0123456789');
  await page.getByLabel(/Your name/).fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  return page;
}

const messages = (page: Page) => page.getByTestId('messages').locator('.message');

test('two tabs on one session stay in sync, and a message says who wrote it', async ({ context }) => {
  const [one, two] = [await tab(context, 'Ann'), await tab(context, 'Ann')];
  await expect(messages(one)).toHaveCount(1);
  await one.getByLabel('Message as Ann').fill('EUR and USD, please.');
  await one.getByRole('button', { name: 'Send' }).click();
  await expect(messages(two)).toHaveCount(2);
  await expect(messages(two).last()).toContainText('Ann');
  await expect(messages(two).last()).toContainText('EUR and USD, please.');
  await expect(one.getByLabel('Message as Ann')).toHaveValue('');
  // What the agent says reaches both tabs, as do state, progress and the spec.
  await server.post([
    { type: 'session:updated', payload: { id: 'd1', state: 'spec_ready', progress: 80 } },
    { type: 'session:spec', payload: { id: 'd1', spec: { title: 'Billing v2', currencies: ['EUR', 'USD'] } } },
  ]);
  for (const page of [one, two]) {
    await expect(page.getByTestId('session-state')).toHaveText('spec_ready');
    await expect(page.getByTestId('session-progress')).toHaveText('80%');
    await expect(page.getByTestId('spec')).toContainText('"currencies"');
  }
});

test('an approval with a 3 s expiry turns to timeout on screen and offers no late decision', async ({ context }) => {
  const page = await tab(context, 'Ann');
  await server.post({ type: 'approval:requested', payload: { id: 'a1', session_id: 'd1', title: 'Ship the spec?', ttl_ms: 3000 } });
  const approval = page.locator('.approval[data-approval="a1"]');
  await expect(approval.getByTestId('countdown')).toHaveText(/expires in [1-3] s/);
  // The header announces it too, linking here.
  await expect(page.getByTestId('toast').filter({ hasText: 'Approval requested: Ship the spec?' })).toHaveAttribute('data-kind', 'approval');
  await expect(approval.getByTestId('approval-status')).toHaveText('timeout', { timeout: 6_000 });
  await expect(approval).toContainText('timeout by flightdeck');
  await expect(approval.getByRole('button', { name: 'Approve' })).toHaveCount(0);
});

test('approving in one browser resolves it in the other; two deciding at once get one resolution', async ({ browser }) => {
  // Two people, each in their own browser: cookies (and so names) are not shared.
  const [one, two] = [await tab(await browser.newContext(), 'Ann'), await tab(await browser.newContext(), 'Bob')];
  await server.post({ type: 'approval:requested', payload: { id: 'a2', session_id: 'd1', title: 'Email customers?', ttl_ms: 600000 } });
  const [inOne, inTwo] = [one, two].map((p) => p.locator('.approval[data-approval="a2"]'));
  await expect(inTwo.getByRole('button', { name: 'Deny' })).toBeEnabled();
  await inOne.getByRole('button', { name: 'Approve' }).click();
  await expect(inTwo.getByTestId('approval-status')).toHaveText('approved');
  await expect(inTwo).toContainText('approved by Ann');

  // Both click at once on a new one (in the same instant, before either hears of the other): one
  // resolution wins, and both pages show it.
  await server.post({ type: 'approval:requested', payload: { id: 'a3', session_id: 'd1', title: 'Merge now?', ttl_ms: 600000 } });
  const [a, b] = [one, two].map((p) => p.locator('.approval[data-approval="a3"]'));
  await expect(a.getByRole('button', { name: 'Approve' })).toBeEnabled();
  await expect(b.getByRole('button', { name: 'Deny' })).toBeEnabled();
  const press = (page: Page, name: string) =>
    page.evaluate((n) => {
      const button = [...document.querySelectorAll('.approval[data-approval="a3"] button')].find((x) => x.textContent === n);
      (button as HTMLButtonElement | undefined)?.click();
    }, name);
  await Promise.all([press(one, 'Approve'), press(two, 'Deny')]);
  await expect(a.getByTestId('approval-status')).toHaveText(/approved|rejected/);
  const final = await a.getByTestId('approval-status').textContent();
  await expect(b.getByTestId('approval-status')).toHaveText(final ?? '');
  const history = await (await fetch(`${server.url}/api/events?topic=approvals`, {
    headers: { authorization: 'Bearer e2e-token-0123456789' },
  })).json();
  const resolutions = history.events.filter((e: { type: string; payload: { id: string } }) =>
    e.type === 'approval:resolved' && e.payload.id === 'a3');
  expect(resolutions).toHaveLength(1);
});

test('a viewer sees the decisions disabled, with the reason', async ({ page }) => {
  const viewer = server.cli(['token', 'create', '--name', 'auditor', '--role', 'viewer']).trim().split('\n')[0];
  await server.post({ type: 'approval:requested', payload: { id: 'a4', session_id: 'd1', title: 'Deploy?', ttl_ms: 600000 } });
  await signIn(page, server, viewer);
  await page.goto(`${server.url}/sessions/d1`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  const approve = page.getByRole('button', { name: 'Approve' });
  await expect(approve).toBeDisabled();
  await expect(approve).toHaveAccessibleDescription(/read-only viewer token/);
  await expect(page.getByRole('button', { name: 'Send' })).toBeDisabled();
});

test('killed and restarted during a session, the page reconnects by itself and is whole', async ({ context }) => {
  const page = await tab(context, 'Ann');
  const loads: string[] = [];
  page.on('load', () => loads.push(page.url()));
  await server.kill();
  await expect(page.getByTestId('connection')).toHaveText(/Reconnecting|Offline/);
  await server.launch();
  await server.post({ type: 'session:message', payload: { id: 'd1', role: 'agent', author: 'clarifier', text: 'Back again.' } });
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  await expect(messages(page)).toHaveCount(2);
  await expect(messages(page).last()).toContainText('Back again.');
  expect(loads).toEqual([]);
});

test('the session pages at laptop and phone widths', async ({ context }) => {
  const page = await tab(context, 'Ann');
  await server.post([
    { type: 'session:message', payload: { id: 'd1', role: 'human', author: 'Ann', text: 'EUR and USD.' } },
    { type: 'session:updated', payload: { id: 'd1', state: 'spec_ready', progress: 80 } },
    { type: 'session:spec', payload: { id: 'd1', spec: { title: 'Billing v2', currencies: ['EUR', 'USD'] } } },
    { type: 'task:created', payload: { id: 'g1', title: 'Invoice generator', session_id: 'd1' } },
    { type: 'approval:requested', payload: { id: 'a5', session_id: 'd1', title: 'Approve the spec?', ttl_ms: 600000 } },
  ]);
  await expect(page.locator('.tickets li')).toHaveCount(1);
  const dir = join(__dirname, '..', 'screenshots');
  mkdirSync(dir, { recursive: true });
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: join(dir, `session-${width}x${height}.png`), fullPage: true });
    await page.goto(`${server.url}/sessions`);
    await expect(page.locator('.session-row')).toHaveCount(1);
    await page.screenshot({ path: join(dir, `sessions-${width}x${height}.png`), fullPage: true });
    await page.goto(`${server.url}/sessions/d1`);
  }
});
