// How a big board behaves in a real browser, measured from outside on a release build: the page's
// size on the wire, how long until it is live, how soon a new card shows, and how soon the last of
// a burst of events is on screen. Prints a table; `BOARD_TASKS` (5000) and `BOARD_RUNS` (5) set the
// size and the repeats.
import { expect, Page, test } from '@playwright/test';
import { request } from 'node:http';
import { FlightdeckServer, signIn, TOKEN } from '../tests/support/server';

const TASKS = Number(process.env.BOARD_TASKS ?? 5000);
const RUNS = Number(process.env.BOARD_RUNS ?? 5);
const BURST = 500;
const statuses = ['inbox', 'assigned', 'in_progress', 'review', 'done', 'failed'];
const words = ['login', 'billing', 'search', 'docs', 'CI', 'export', 'onboarding', 'alerts'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]);
}

/** GETs `url` as a browser that takes gzip would: the bytes as they came over the wire. */
function onTheWire(url: string, headers: Record<string, string>): Promise<{ bytes: number; encoding?: string }> {
  return new Promise((done, fail) => {
    const asked = request(url, { headers: { ...headers, 'accept-encoding': 'gzip' } }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => done({ bytes, encoding: response.headers['content-encoding'] }));
      response.on('error', fail);
    });
    asked.on('error', fail);
    asked.end();
  });
}

async function fill(server: FlightdeckServer) {
  for (let start = 0; start < TASKS; start += 1000) {
    const batch = [];
    for (let n = start; n < Math.min(TASKS, start + 1000); n++) {
      batch.push({
        type: 'task:created',
        payload: {
          id: `t${n}`,
          title: `Make the ${words[n % words.length]} work for case ${n}`,
          description: `Task ${n}: ${words[(n * 7) % words.length]} needs attention before the release.`,
          status: statuses[n % statuses.length],
          assignee: `agent-${n % 40}`,
          labels: [words[(n * 3) % words.length].toLowerCase()],
        },
      });
    }
    await server.post(batch);
  }
}

/** Records, in the page, when each card first appears (ms since the epoch). */
async function watchCards(page: Page) {
  await page.evaluate(() => {
    const seen: Record<string, number> = {};
    (window as any).__seen = seen;
    new MutationObserver((records) => {
      const now = performance.timeOrigin + performance.now();
      for (const r of records)
        r.addedNodes.forEach((node) => {
          const el = node as Element;
          const id = el.getAttribute?.('data-task-id');
          if (id && !(id in seen)) seen[id] = now;
        });
    }).observe(document.body, { childList: true, subtree: true });
  });
}

async function shownAt(page: Page, id: string): Promise<number> {
  await page.waitForFunction((i) => (window as any).__seen[i] !== undefined, id, { timeout: 30_000 });
  return page.evaluate((i) => (window as any).__seen[i], id);
}

test(`a board of ${TASKS} tasks`, async ({ page }) => {
  const server = await FlightdeckServer.start();
  try {
    await fill(server);
    const cookie = { cookie: `fd_token=${TOKEN}` };
    const plain = Buffer.from(await (await fetch(server.url, { headers: cookie })).arrayBuffer());
    const started = performance.now();
    const { bytes: onWire, encoding } = await onTheWire(server.url, cookie);
    const render = performance.now() - started;

    await signIn(page, server);
    // The page notes when it goes live, so the figure is not the test's polling interval.
    await page.addInitScript(() => {
      new MutationObserver((records) => {
        for (const r of records) {
          const el = r.target as Element;
          if (el.getAttribute('data-state') === 'live' && (window as any).__liveAt === undefined)
            (window as any).__liveAt = performance.now();
        }
      }).observe(document, { subtree: true, attributeFilter: ['data-state'] });
    });
    const live: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await page.goto(server.url, { waitUntil: 'commit' });
      await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
      live.push(await page.evaluate(() => (window as any).__liveAt));
    }
    await watchCards(page);
    const single: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const sent = Date.now();
      await server.post({ type: 'task:created', payload: { id: `one-${i}`, title: `One more card ${i}` } });
      single.push((await shownAt(page, `one-${i}`)) - sent);
    }
    const burst: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const events = Array.from({ length: BURST }, (_, n) => ({
        type: 'task:created',
        payload: { id: `burst-${i}-${n}`, title: `Burst ${i} card ${n}` },
      }));
      const sent = Date.now();
      await server.post(events);
      burst.push((await shownAt(page, `burst-${i}-${BURST - 1}`)) - sent);
    }
    const rows = [
      ['board page, as sent', `${(plain.length / 1024).toFixed(0)} KiB`],
      [`board page on the wire (${encoding ?? 'not compressed'})`, `${(onWire / 1024).toFixed(0)} KiB`],
      ['server render and transfer', `${render.toFixed(0)} ms`],
      [`navigation to Live in Chromium (median of ${RUNS})`, `${median(live)} ms`],
      ['one new card on screen', `${median(single)} ms`],
      [`last of a ${BURST}-event burst on screen`, `${median(burst)} ms`],
    ];
    console.log(`\nA board of ${TASKS} tasks\n` + rows.map(([k, v]) => `  ${k.padEnd(48)} ${v}`).join('\n'));
  } finally {
    await server.kill();
  }
});
