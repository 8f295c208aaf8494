// Starts the real flightdeck binary on a free port with a fresh SQLite file, and talks to its API.
import type { Page } from '@playwright/test';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../../..');
export const TOKEN = 'e2e-token-0123456789';

export type EventBody = { type: string; payload: Record<string, unknown> };

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => ok(port));
    });
  });
}

const binary = () => process.env.FLIGHTDECK_BIN ?? join(root, 'target/debug/flightdeck');

export class FlightdeckServer {
  private child: ChildProcess | null = null;
  readonly url: string;

  private constructor(
    readonly port: number,
    readonly database: string,
    private readonly extraEnv: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** A server on a free port with a new, empty database; `env` adds FLIGHTDECK_* settings. */
  static async start(env: Record<string, string> = {}): Promise<FlightdeckServer> {
    const dir = mkdtempSync(join(tmpdir(), 'flightdeck-e2e-'));
    const server = new FlightdeckServer(await freePort(), join(dir, 'e2e.db'), env);
    await server.launch();
    return server;
  }

  /** Runs `flightdeck <args>` against this server's database and returns what it printed. */
  cli(args: string[]): string {
    return execFileSync(binary(), args, {
      cwd: root,
      env: { ...process.env, FLIGHTDECK_DATABASE_URL: `sqlite://${this.database}` },
      encoding: 'utf8',
    });
  }

  /** Starts the binary (again) on the same port and database. */
  async launch(): Promise<void> {
    this.child = spawn(binary(), ['serve'], {
      cwd: root,
      env: {
        ...process.env,
        FLIGHTDECK_ADDR: `127.0.0.1:${this.port}`,
        FLIGHTDECK_DATABASE_URL: `sqlite://${this.database}`,
        FLIGHTDECK_TOKEN: TOKEN,
        LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? join(root, 'target/site'),
        RUST_LOG: 'warn',
        ...this.extraEnv,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${this.url}/readyz`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`flightdeck did not become ready on port ${this.port}`);
  }

  /** Puts another (stopped) server's database files in place of this one's, as a restore would. */
  restoreFrom(other: FlightdeckServer): void {
    for (const suffix of ['', '-wal', '-shm']) {
      rmSync(this.database + suffix, { force: true });
      if (existsSync(other.database + suffix)) copyFileSync(other.database + suffix, this.database + suffix);
    }
  }

  /** Kills the process the hard way, as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.child = null;
  }

  async post(events: EventBody | EventBody[]): Promise<{ seqs: number[] }> {
    const response = await fetch(`${this.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    const body = await response.json();
    if (response.status !== 201) throw new Error(`post refused (${response.status}): ${JSON.stringify(body)}`);
    return body;
  }
}

export type Answer = { status: number; body: any };

/** Calls any endpoint with the test token, the way a client written for another system would:
 *  a JSON body and no content type unless `contentType` says so. */
export async function api(server: FlightdeckServer, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed };
}

/** Like `api`, but fails the test unless the answer is a success. */
export async function ok(server: FlightdeckServer, method: string, path: string, body?: unknown): Promise<any> {
  const answer = await api(server, method, path, body);
  if (answer.status >= 300) throw new Error(`${method} ${path} refused (${answer.status}): ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export const created = (id: string, title: string, extra: Record<string, unknown> = {}): EventBody => ({
  type: 'task:created',
  payload: { id, title, ...extra },
});

/** Signs the page in the way the login form would: the session cookie holds the token. */
export async function signIn(page: Page, server: FlightdeckServer, token = TOKEN): Promise<void> {
  await page.context().addCookies([{ name: 'fd_token', value: token, url: server.url, httpOnly: true, sameSite: 'Lax' }]);
}
