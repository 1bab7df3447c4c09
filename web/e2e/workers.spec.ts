/** A studio over a pool of two Ray workers (`--cluster local --cluster-workers 2`): the Workers panel
 * lists both, and two jobs run at once, each showing its own worker and progress in the queue. */
import { InvokeServer } from './support/server';
import { expect, screenshot, smallSettings, test as base } from './support/fixtures';

const test = base.extend<object, { server: InvokeServer }>({
  server: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const server = new InvokeServer(['--cluster', 'local', '--cluster-workers', '2', '--cluster-threads', '1']);
      server.buildRoot();
      await server.start();
      await use(server);
      await server.stop();
      server.cleanup();
    },
    { scope: 'worker', timeout: 300_000 },
  ],
});

test('the Workers panel lists two workers and two jobs show their progress at once', async ({ app: page }) => {
  test.setTimeout(240_000);
  const workers = page.getByTestId('worker');
  await expect(workers).toHaveCount(2, { timeout: 60_000 });
  await expect(workers.nth(0)).toHaveAttribute('data-worker', 'worker-0');
  await expect(workers.nth(1)).toHaveAttribute('data-worker', 'worker-1');
  await expect(page.getByTestId('workers-panel')).toContainText('0/2 busy');
  // Both loaded the demo model at start (each worker reports it when its load ends).
  await expect(page.getByTestId('workers-panel').getByText('demo', { exact: true })).toHaveCount(2, { timeout: 90_000 });

  await page.getByTestId('prompt').fill('two lighthouses');
  await smallSettings(page, 64, 400);
  await page.getByTestId('invoke').click();
  await page.getByTestId('invoke').click();

  // Both running at the same time, each on its own worker with its own step count.
  const running = page.locator('[data-testid="queue-job"][data-status="running"]');
  await expect(running).toHaveCount(2, { timeout: 90_000 });
  const progress = running.getByTestId('queue-job-progress').locator('progress');
  await expect(progress).toHaveCount(2, { timeout: 60_000 });
  await expect.poll(async () => (await running.getByTestId('queue-job-worker').allTextContents()).sort()).toEqual([
    'worker-0',
    'worker-1',
  ]);
  await expect(page.getByTestId('workers-panel')).toContainText('2/2 busy');
  const steps = async () => Promise.all([0, 1].map(async (i) => Number(await progress.nth(i).getAttribute('value'))));
  const first = await steps();
  await expect.poll(async () => {
    const now = await steps();
    return now[0] > first[0] && now[1] > first[1];
  }, { timeout: 60_000 }).toBe(true);
  await expect(page.getByTestId('worker-job').nth(0)).toContainText('step');
  await expect(page.getByTestId('worker-job').nth(1)).toContainText('step');
  await screenshot(page, 'workers-two-jobs');

  const cancels = running.getByTestId('cancel-job');
  await cancels.nth(1).click();
  await cancels.nth(0).click();
  await expect(page.getByTestId('workers-panel')).toContainText('0/2 busy', { timeout: 60_000 });
});
