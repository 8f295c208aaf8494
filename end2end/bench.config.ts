import base from './playwright.config';
import { defineConfig } from '@playwright/test';

// Benchmarks, not tests: they print figures (docs/performance.md) and assert only that they ran.
// `npx playwright test -c bench.config.ts`, with FLIGHTDECK_BIN pointing at a release build.
export default defineConfig({
  ...base,
  testDir: './bench',
  testMatch: '**/*.bench.ts',
  timeout: 600_000,
  reporter: [['list']],
  // No trace: recording one snapshots the page's DOM as it changes, work that would be measured.
  use: { ...base.use, trace: 'off' },
});
