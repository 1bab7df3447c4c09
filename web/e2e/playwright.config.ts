/** Playwright runner settings: Debian's Chromium, two workers each with its own real server, no downloads. */
import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from './support/env';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: '../test-results/artifacts',
  globalSetup: './globalSetup.ts',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  // Each worker starts its own server on its own root (support/fixtures.ts), and a spec file's tests
  // run in order on one worker; `make test-e2e E2E_WORKERS=1` runs them all on one.
  workers: 2,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  reporter: [['list'], ['./support/lastWords.ts']],
  use: {
    browserName: 'chromium',
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
    viewport: { width: 1280, height: 800 },
    screenshot: 'only-on-failure',
    trace: 'off',
    actionTimeout: 15_000,
  },
});
