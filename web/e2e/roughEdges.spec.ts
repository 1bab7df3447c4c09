/** The rough edges a new user hits, each as that user meets it in real Chromium on the real server. */
import path from 'node:path';
import { expect, invokeAndWait, setNumber, smallSettings, test, waitForResults, resultCount } from './support/fixtures';
import { FIXTURES } from './support/env';

const PARROT = path.join(FIXTURES, 'lincoln-parrot-128.png');

test('the Uploads tab shows what the user uploaded, never the working images an outpainting composes', async ({ app: page }) => {
  test.setTimeout(240_000);
  await page.getByTestId('tab-outpainting').click();
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId('outpaint-dropzone').click();
  await (await chooser).setFiles(PARROT);
  await expect(page.getByTestId('outpaint-source')).toHaveAttribute('data-url', /init-images\//);
  const uploaded = (await page.getByTestId('outpaint-source').getAttribute('data-url')) ?? '';
  // The server is shared with the other specs: count from what the Uploads tab holds once it shows the upload.
  await page.getByTestId('gallery-category-user').click();
  const userGrid = page.getByTestId('gallery-grid-user');
  await expect(userGrid.locator(`[data-url="${uploaded}"]`)).toHaveCount(1);
  const uploads = page.getByTestId('gallery-count-user');
  const held = (await uploads.textContent()) ?? '';
  expect(Number(held)).toBeGreaterThanOrEqual(1);
  await page.getByTestId('prompt').fill('a stormy sea beyond the frame');
  await setNumber(page, 'steps', 3);
  await page.getByTestId('outpaint-preset-64').click();
  const before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await waitForResults(page, before + 1);
  await expect(page.getByTestId('cancel')).toBeDisabled({ timeout: 60_000 });
  await page.getByTestId('gallery-category-user').click();
  await expect(uploads).toHaveText(held);
  const urls = await userGrid.getByTestId('gallery-thumb').evaluateAll((els) => els.map((e) => e.getAttribute('data-url') ?? ''));
  expect(urls).toContain(uploaded);
  expect(urls.filter((url) => /canvas-region|outpaint-/.test(url))).toEqual([]);
});

test('Select mode ends on leaving Postprocessing; Shift-click after Ctrl-click extends the selection', async ({ app: page }) => {
  test.setTimeout(240_000);
  await page.getByTestId('prompt').fill('four small tiles');
  await smallSettings(page, 64, 2);
  await setNumber(page, 'iterations', 4);
  await invokeAndWait(page, 4);
  const thumbs = page.getByTestId('gallery-grid-result').locator('.thumb__select');
  await thumbs.nth(0).click();
  await thumbs.nth(2).click({ modifiers: ['ControlOrMeta'] });
  await thumbs.nth(3).click({ modifiers: ['Shift'] });
  await expect(page.getByTestId('selection-count')).toHaveText('3 selected'); // the first, and the third to the fourth

  await page.getByTestId('tab-postprocessing').click();
  const selectMode = page.getByTestId('gallery-select-mode');
  await selectMode.click();
  await expect(selectMode).toHaveAttribute('aria-pressed', 'true');
  await page.getByTestId('tab-txt2img').click();
  await expect(selectMode).toHaveAttribute('aria-pressed', 'false');
  // A plain click shows the image again instead of ticking it.
  await thumbs.nth(1).click();
  await expect(page.getByTestId('gallery-selection')).toHaveCount(0);
});

test('a small result is shown sharp, and its metadata closes on Esc with key names broken only between their parts', async ({ app: page }) => {
  test.setTimeout(240_000);
  await page.getByTestId('prompt').fill('a tiny lighthouse');
  await smallSettings(page, 128, 2);
  await invokeAndWait(page, 1);
  await page.setViewportSize({ width: 390, height: 844 }); // a phone: the metadata column is narrow
  const shown = page.getByTestId('current-image');
  await expect(shown).toBeVisible();
  const [rendering, shownWidth] = await shown.evaluate((img) => [getComputedStyle(img).imageRendering, img.getBoundingClientRect().width]);
  expect(shownWidth).toBeGreaterThan(128); // enlarged to the panel...
  expect(rendering).toBe('pixelated'); // ...without blurring its pixels

  await page.getByTestId('show-metadata').click();
  const viewer = page.getByTestId('metadata-viewer');
  await expect(viewer).toBeVisible();
  const midWordBreaks = await viewer.locator('dt').evaluateAll((dts) => {
    const bad: string[] = [];
    for (const dt of dts) {
      const text = dt.textContent ?? '';
      const walker = document.createTreeWalker(dt, NodeFilter.SHOW_TEXT);
      let lastTop: number | null = null;
      let previous = '';
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (let i = 0; i < (node.textContent ?? '').length; i++) {
          const range = document.createRange();
          range.setStart(node, i);
          range.setEnd(node, i + 1);
          const top = range.getBoundingClientRect().top;
          if (lastTop !== null && top > lastTop + 2 && !/[._]/.test(previous)) bad.push(`${text} (before "${node.textContent?.[i]}")`);
          lastTop = top;
          previous = node.textContent?.[i] ?? '';
        }
      }
    }
    return bad;
  });
  expect(midWordBreaks).toEqual([]);
  await page.keyboard.press('Escape');
  await expect(viewer).toBeHidden();
});

test('on a touch screen a tooltip shown by a tap closes again', async ({ browser, server }) => {
  const context = await browser.newContext({ hasTouch: true, isMobile: true, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(server.url);
  await expect(page.getByTestId('connection-status')).toHaveText('Connected');
  await page.getByTestId('theme-toggle').tap();
  await page.getByTestId('tab-img2img').tap();
  await page.waitForTimeout(1000); // longer than any tooltip's delay
  await expect(page.getByRole('tooltip')).toHaveCount(0);
  await context.close();
});

test('the header stays put when the server goes away, and the model picker says the model is loading when it returns', async ({ app: page, server }) => {
  test.setTimeout(240_000);
  const boxes = () =>
    page.locator('.site-header button, .site-header select').evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().left)));
  // Measured once systemConfig has come (the version badge beside the name is its app_version).
  await expect(page.locator('.site-header__version')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('model-picker')).toHaveValue('demo', { timeout: 60_000 });
  const connected = await boxes();
  // Every text the picker shows from here on, so a brief "No models" cannot slip by.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { pickerTexts: string[] }).pickerTexts = seen;
    const picker = document.querySelector('[data-testid="model-picker"]');
    const record = () => seen.push((picker as HTMLSelectElement | null)?.selectedOptions[0]?.text ?? '');
    if (picker) new MutationObserver(record).observe(picker, { childList: true, subtree: true, characterData: true });
  });
  await server.stop();
  await expect(page.getByTestId('connection-status')).toHaveText('Disconnected', { timeout: 30_000 });
  expect(await boxes()).toEqual(connected);
  await server.start();
  await expect(page.getByTestId('connection-status')).toHaveText('Connected', { timeout: 60_000 });
  await expect(page.getByTestId('model-picker')).toHaveValue('demo', { timeout: 60_000 });
  const texts = await page.evaluate(() => (window as unknown as { pickerTexts: string[] }).pickerTexts);
  expect(texts).not.toContain('No models');
});

test('nothing in the header moves when the server first answers (the version badge has its room from the start)', async ({ page, server }) => {
  test.setTimeout(120_000);
  // Hold the Socket.IO connection until the page has painted its header without systemConfig.
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/socket.io/**', async (route) => {
    await held;
    await route.continue();
  });
  const lefts = () =>
    page.locator('.site-header button, .site-header select, .site-header__name').evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().left)));
  await page.goto(server.url);
  await expect(page.getByTestId('connection-status')).toHaveText('Connecting');
  await expect(page.locator('.site-header__version')).toBeHidden();
  const before = await lefts();
  release();
  await expect(page.getByTestId('connection-status')).toHaveText('Connected', { timeout: 60_000 });
  await expect(page.locator('.site-header__version')).toBeVisible();
  await expect(page.getByTestId('model-picker')).toHaveValue('demo', { timeout: 60_000 });
  expect(await lefts()).toEqual(before);
  await page.unrouteAll({ behavior: 'ignoreErrors' });
});
