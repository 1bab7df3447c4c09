/** /docs in Chromium with nothing but this server reachable: Swagger UI's files are ours, and it lists both APIs. */
import { expect, screenshot, test } from './support/fixtures';

test('the API docs page renders every operation offline, within its CSP', async ({ page, server }) => {
  const elsewhere: string[] = [];
  await page.route('**/*', async (route) => {
    const { hostname } = new URL(route.request().url());
    if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue();
    elsewhere.push(route.request().url());
    return route.abort('blockedbyclient');
  });
  const refusals: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) refusals.push(message.text());
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${server.url}/docs`);
  await expect(page.getByRole('heading', { name: /InvokeAI Desktop HTTP APIs/ })).toBeVisible();
  for (const path of ['/sdapi/v1/txt2img', '/sdapi/v1/img2img', '/sdapi/v1/progress', '/v1/images/generations',
    '/v1/images/edits', '/v1/models']) {
    await expect(page.locator(`.opblock-summary-path[data-path="${path}"]`).first()).toBeVisible();
  }
  // An operation opens onto the request body spectree took from the pydantic model.
  await page.locator('.opblock-summary-path[data-path="/v1/images/generations"]').click();
  const operation = page.locator('.opblock.is-open');
  await expect(operation.getByText('Request body')).toBeVisible();
  await operation.getByRole('tab', { name: 'Schema' }).first().click();
  await expect(operation.locator('.model-box').first()).toContainText('GenerationsBody');
  await screenshot(page, 'api-docs');

  expect(elsewhere, 'requests to other hosts').toEqual([]);
  expect(refusals, 'CSP refusals').toEqual([]);
  expect(errors, 'uncaught errors in the page').toEqual([]);
});
