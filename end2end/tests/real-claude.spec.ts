// The real Claude Code CLI (pinned in scripts/setup.sh), wired by `flightdeck hooks claude-code`,
// run headless against a scripted stand-in for the model API: the model asks to run a Bash command
// that needs permission, Flightdeck holds the permission hook, and an operator decides in Chromium.
// Approved at phone width, the command runs; denied, it does not and the model reads the reason; a
// message typed on the session's page reaches the model's next turn.
import { expect, Page, test } from '@playwright/test';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlightdeckServer, TOKEN } from './support/server';

const CLAUDE = join(__dirname, '..', '..', '.tools', 'claude', 'node_modules', '.bin', 'claude');

/** The model's script: the first turn asks to run `command` with Bash, every later one says "done". */
class Model {
  requests: any[] = [];
  private server: Server;

  private constructor(private command: string) {
    this.server = createServer((req, res) => this.answer(req, res));
  }

  static async start(command: string): Promise<Model> {
    const model = new Model(command);
    await new Promise<void>((ready) => model.server.listen(0, '127.0.0.1', ready));
    return model;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Everything the model was sent, as text: where a denial's reason or a message shows up. */
  heard(): string {
    return JSON.stringify(this.requests);
  }

  async stop(): Promise<void> {
    await new Promise((done) => this.server.close(done));
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      const request = JSON.parse(body);
      this.requests.push(request);
      const first = this.requests.length === 1;
      const block = first
        ? { type: 'tool_use', id: 'toolu_e2e_1', name: 'Bash', input: {} }
        : { type: 'text', text: '' };
      const delta = first
        ? { type: 'input_json_delta', partial_json: JSON.stringify({ command: this.command, description: 'make the file' }) }
        : { type: 'text_delta', text: 'done' };
      const events: [string, unknown][] = [
        ['message_start', { type: 'message_start', message: { id: `msg_${this.requests.length}`, type: 'message',
          role: 'assistant', model: request.model, content: [], stop_reason: null, stop_sequence: null,
          usage: { input_tokens: 20, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } } }],
        ['content_block_start', { type: 'content_block_start', index: 0, content_block: block }],
        ['content_block_delta', { type: 'content_block_delta', index: 0, delta }],
        ['content_block_stop', { type: 'content_block_stop', index: 0 }],
        ['message_delta', { type: 'message_delta', delta: { stop_reason: first ? 'tool_use' : 'end_turn', stop_sequence: null },
          usage: { output_tokens: 12 } }],
        ['message_stop', { type: 'message_stop' }],
      ];
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.end(events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join(''));
    });
  }
}

let server: FlightdeckServer;
let model: Model;
let work: string;
let claude: ChildProcess | undefined;

test.beforeEach(async () => {
  server = await FlightdeckServer.start();
  work = mkdtempSync(join(tmpdir(), 'fd-claude-work-'));
  model = await Model.start(`touch ${join(work, 'made.txt')}`);
});

test.afterEach(async () => {
  claude?.kill();
  await model.stop();
  await server.kill();
});

/** Runs `claude -p` in the work directory with the hooks `flightdeck hooks claude-code` wrote;
 *  resolves with its exit code and what it printed. */
function runClaude(): Promise<{ code: number | null; output: string }> {
  const home = mkdtempSync(join(tmpdir(), 'fd-claude-home-'));
  const settings = join(home, 'settings.json');
  server.cli(['hooks', 'claude-code', '--url', server.url, '--install', settings]);
  const child = spawn(CLAUDE, ['-p', 'make the file', '--settings', settings, '--output-format', 'stream-json',
    '--verbose', '--debug-file', join(home, 'debug.log')], {
    cwd: work,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: 'dummy-key',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      FLIGHTDECK_TOKEN: TOKEN,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  claude = child;
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  return new Promise((done) => child.on('exit', (code) => done({ code, output })));
}

async function signedIn(page: Page): Promise<void> {
  await page.context().addCookies([
    { name: 'fd_token', value: TOKEN, url: server.url, httpOnly: true, sameSite: 'Lax' },
    { name: 'fd_name', value: 'Ann', url: server.url, httpOnly: true, sameSite: 'Lax' },
  ]);
}

/** The held request's card in the inbox, once Claude Code asked. */
async function asked(page: Page) {
  await page.goto(`${server.url}/approvals`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  const card = page.locator('.approvals.inbox .approval').first();
  await expect(card.getByTestId('approval-command')).toHaveText(`touch ${join(work, 'made.txt')}`, { timeout: 30_000 });
  return card;
}

test('approved from a phone, the command runs and its activity succeeds', async ({ browser }) => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await signedIn(page);
  const run = runClaude();
  const card = await asked(page);
  const session = await card.locator('.approval-where a').getAttribute('href');
  await card.getByRole('button', { name: 'Approve', exact: true }).click();
  const { code, output } = await run;
  expect(code, output).toBe(0);
  expect(existsSync(join(work, 'made.txt')), 'the command ran').toBe(true);
  expect(model.requests.length, 'the model heard the result and answered').toBe(2);

  await page.goto(`${server.url}${session}`);
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  const entry = page.getByTestId('timeline').locator('.entry').filter({ hasText: `Bash: touch ${join(work, 'made.txt')}` });
  await expect(entry).toHaveAttribute('data-status', 'succeeded');
  await expect(page.getByTestId('timeline')).toContainText('Answered Claude Code: allow, as Ann approved after');
});

test('denied with a reason, the command does not run and the model reads the reason', async ({ page }) => {
  await signedIn(page);
  const run = runClaude();
  const card = await asked(page);
  await card.getByLabel('Reason (the agent reads it)').fill('not on this machine');
  await card.getByRole('button', { name: 'Deny' }).click();
  const { code, output } = await run;
  expect(code, output).toBe(0);
  expect(existsSync(join(work, 'made.txt')), 'the command did not run').toBe(false);
  expect(model.heard()).toContain('Denied by Ann in Flightdeck: not on this machine');
});

test('a message typed on the session page reaches the model at its next turn', async ({ page }) => {
  await signedIn(page);
  const run = runClaude();
  const card = await asked(page);
  await card.locator('.approval-where a').click();
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live');
  await page.getByLabel('Message the agent as Ann').fill('use pnpm from now on');
  await page.getByRole('button', { name: 'Send' }).click();
  const mine = page.getByTestId('messages').locator('.message').filter({ hasText: 'use pnpm from now on' });
  await expect(mine.getByTestId('delivery')).toHaveText("waiting for the agent's next hook");
  await page.locator('.approval[data-status="pending"]').getByRole('button', { name: 'Approve', exact: true }).click();
  const { code, output } = await run;
  expect(code, output).toBe(0);
  expect(model.heard()).toContain('Message from Ann (via Flightdeck): use pnpm from now on');
  await expect(mine.getByTestId('delivery')).toHaveText('delivered to the agent (PostToolUse)');
});
