// Signing in and out: the dashboard is closed to anyone without a token.
import { expect, test } from '@playwright/test';
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

test('the board asks for a token, refuses a wrong one, and opens with the right one', async ({ page }) => {
  await page.goto(server.url);
  await expect(page).toHaveURL(/\/login\?next=/);
  const field = page.getByLabel('Access token');
  await expect(field).toBeVisible();
  mkdirSync(join(__dirname, '..', 'screenshots'), { recursive: true });
  await page.screenshot({ path: join(__dirname, '..', 'screenshots', 'login-1280x800.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(__dirname, '..', 'screenshots', 'login-390x844.png') });
  await page.setViewportSize({ width: 1280, height: 800 });

  await field.fill('not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('not valid');

  await page.getByLabel('Access token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${server.url}/`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'fd_token');
  expect(session?.httpOnly).toBe(true);
  expect(await page.evaluate(() => document.cookie)).not.toContain('fd_token');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto(server.url);
  await expect(page).toHaveURL(/\/login/);
});

test('revoking the token signs an open page out instead of leaving it "reconnecting"', async ({ page }) => {
  await server.kill();
  server = await FlightdeckServer.start({ FLIGHTDECK_HEARTBEAT_MS: '300' });
  const created = server.cli(['token', 'create', '--name', 'wall', '--role', 'viewer']);
  const token = created.split('\n')[0].trim();
  const id = /\(([0-9a-f-]{36})\)/.exec(created)?.[1];
  expect(id, created).toBeTruthy();

  await page.goto(`${server.url}/login`);
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');

  server.cli(['token', 'revoke', id!]);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'signed-out');
  await expect(page.getByTestId('connection')).toHaveText('● Signed out');
  await page.screenshot({ path: join(__dirname, '..', 'screenshots', 'signed-out-1280x800.png') });
  await page.getByRole('link', { name: 'Sign in again' }).click();
  await expect(page).toHaveURL(/\/login/);
});
