/** Postprocessing in real Chromium against the real server: pick three gallery images, upscale them, restore faces. */
import type { Page } from '@playwright/test';
import { expect, imageMetadata, invokeAndWait, resultCount, screenshot, setSwitch, smallSettings, test, waitForResults } from './support/fixtures';

const thumbOf = (page: Page, url: string) => page.getByTestId('gallery-grid-result').locator(`[data-url="${url}"]`);

/** The natural size of a served image. */
async function naturalSize(page: Page, url: string): Promise<[number, number]> {
  return page.evaluate(async (u) => {
    const bitmap = await createImageBitmap(await (await fetch(u)).blob());
    return [bitmap.width, bitmap.height] as [number, number];
  }, url);
}

interface Step {
  type: string;
  scale?: number;
  faces?: number;
}

const stepsOf = (meta: Record<string, unknown>): Step[] => ((meta.image as { postprocessing?: Step[] } | undefined)?.postprocessing ?? []);

test('three selected images are upscaled 2x as three queued jobs; faces are restored on one', async ({ app: page, sent }) => {
  test.setTimeout(240_000);
  await page.getByTestId('prompt').fill('portrait of a lawyer, 3/4 shot');
  await smallSettings(page, 64, 3);
  await page.getByTestId('iterations').fill('3');
  await page.getByTestId('iterations').blur();
  const three = await invokeAndWait(page, 3);

  // Click the newest, Shift-click the oldest: all three are selected; Ctrl-click takes one out and back.
  await thumbOf(page, three[0]).locator('.thumb__select').click();
  await thumbOf(page, three[2]).locator('.thumb__select').click({ modifiers: ['Shift'] });
  await expect(page.getByTestId('selection-count')).toHaveText('3 selected');
  await thumbOf(page, three[1]).locator('.thumb__select').click({ modifiers: ['ControlOrMeta'] });
  await expect(page.getByTestId('selection-count')).toHaveText('2 selected');
  await expect(thumbOf(page, three[1])).toHaveAttribute('data-picked', 'false');
  // Select mode: every tap toggles a checkbox, as on a touch screen.
  await page.getByTestId('gallery-select-mode').click();
  await thumbOf(page, three[1]).getByTestId('thumb-pick').check();
  await expect(page.getByTestId('selection-count')).toHaveText('3 selected');
  await page.getByTestId('gallery-select-mode').click();
  await expect(page.getByTestId('current-image')).toHaveAttribute('data-url', three[0]);

  await page.getByTestId('tab-postprocessing').click();
  await expect(page.getByTestId('pp-selected-image')).toHaveCount(3);
  await expect(page.getByTestId('pp-selected-count')).toHaveText('3 selected images');
  await expect(page.getByTestId('pp-section-upscale-switch')).toBeChecked();
  await page.getByTestId('pp-upscale-level').selectOption('2');
  await expect(page.getByTestId('run-postprocessing')).toHaveText('Run on 3 images');

  // Count the queue panel's rows as they come and go: the jobs are quick on the demo model.
  await page.evaluate(() => {
    const w = window as unknown as { mostQueued: number };
    w.mostQueued = 0;
    new MutationObserver(() => {
      w.mostQueued = Math.max(w.mostQueued, document.querySelectorAll('[data-testid="queue-job"]').length);
    }).observe(document.body, { childList: true, subtree: true, attributes: true });
  });
  const before = await resultCount(page);
  const started = Date.now();
  await page.getByTestId('run-postprocessing').click();
  const jobs = page.getByTestId('pp-job');
  await expect(jobs).toHaveCount(3);
  // Each row has the job id the server acknowledged, and the queue knows those jobs.
  await expect(jobs.and(page.locator('[data-job-id=""]'))).toHaveCount(0);
  await waitForResults(page, before + 3);
  await expect(jobs.and(page.locator('[data-state="done"]'))).toHaveCount(3, { timeout: 60_000 });
  console.log(`three 2x upscales took ${Date.now() - started} ms`);
  const mostQueued = await page.evaluate(() => (window as unknown as { mostQueued: number }).mostQueued);
  console.log(`the queue panel showed up to ${mostQueued} jobs at once`);
  expect(mostQueued).toBeGreaterThanOrEqual(2);

  const runs = sent.filter((s) => s.event === 'runPostprocessing');
  expect(runs).toHaveLength(3);
  expect(new Set(runs.map((r) => (r.args[0] as { url: string }).url))).toEqual(new Set(three));
  for (const run of runs) expect(run.args[1]).toEqual({ type: 'esrgan', upscale: [2, 0.75] });
  const jobIds = await jobs.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job-id')));
  expect(new Set(jobIds).size).toBe(3);
  await expect(page.getByTestId('pp-job-status').first()).toHaveText('Done: 128×128');

  const results = await page.getByTestId('pp-job-result').evaluateAll((els) => els.map((e) => e.getAttribute('data-url') ?? ''));
  expect(results).toHaveLength(3);
  for (const url of results) {
    expect(url).toMatch(/\.postprocessed\.png$/);
    expect(await naturalSize(page, url)).toEqual([128, 128]);
    await expect(thumbOf(page, url)).toHaveCount(1);
  }
  // The selection survives the new results, so the same images can be run again.
  await expect(page.getByTestId('pp-selected-image')).toHaveCount(3);

  for (const theme of ['dark', 'light'] as const) {
    if ((await page.locator('html').getAttribute('data-theme')) !== theme) await page.getByTestId('theme-toggle').click();
    await page.waitForTimeout(300); // let the colour transitions finish
    await screenshot(page, `postprocessing-${theme}`);
  }
  await page.getByTestId('theme-toggle').click();
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  await screenshot(page, 'postprocessing-dark-phone');
  await page.setViewportSize({ width: 1280, height: 800 });

  // Face restoration on one image: a plain click selects just it.
  await thumbOf(page, three[1]).locator('.thumb__select').click();
  await expect(page.getByTestId('pp-selected-image')).toHaveCount(1);
  await setSwitch(page, 'pp-section-upscale-switch', false);
  await setSwitch(page, 'pp-section-faces-switch', true);
  await page.getByTestId('pp-clear-jobs').click();
  await expect(jobs).toHaveCount(0);
  const count = await resultCount(page);
  await page.getByTestId('run-postprocessing').click();
  await waitForResults(page, count + 1);
  await expect(jobs.and(page.locator('[data-state="done"]'))).toHaveCount(1, { timeout: 60_000 });
  const faceRun = sent.filter((s) => s.event === 'runPostprocessing').at(-1);
  expect(faceRun?.args[1]).toEqual({ type: 'gfpgan', facetool_strength: 0.8, codeformer_fidelity: 0.75 });
  const faceUrl = (await page.getByTestId('pp-job-result').getAttribute('data-url')) ?? '';
  expect(await naturalSize(page, faceUrl)).toEqual([64, 64]);

  // Both at once: one esrgan job that also restores faces, giving one result.
  await setSwitch(page, 'pp-section-upscale-switch', true);
  await page.getByTestId('pp-clear-jobs').click();
  await page.getByTestId('run-postprocessing').click();
  await waitForResults(page, count + 2);
  await expect(jobs.and(page.locator('[data-state="done"]'))).toHaveCount(1, { timeout: 60_000 });
  expect(sent.filter((s) => s.event === 'runPostprocessing').at(-1)?.args[1]).toEqual({
    type: 'esrgan',
    upscale: [2, 0.75],
    facetool: { type: 'gfpgan', strength: 0.8, codeformer_fidelity: 0.75 },
  });
  const bothUrl = (await page.getByTestId('pp-job-result').getAttribute('data-url')) ?? '';
  expect(await naturalSize(page, bothUrl)).toEqual([128, 128]);

  // What the metadata records, and what the tab tells the user about it.
  await page.getByTestId('tab-txt2img').click();
  for (const url of results) {
    const steps = stepsOf(await imageMetadata(page, url));
    expect(steps.at(-1)).toMatchObject({ type: 'esrgan', scale: 2 });
  }
  const bothSteps = stepsOf(await imageMetadata(page, bothUrl));
  expect(bothSteps.map((s) => s.type)).toEqual(['esrgan', 'gfpgan']);
  const faceStep = stepsOf(await imageMetadata(page, faceUrl)).at(-1);
  expect(faceStep?.type).toBe('gfpgan');
  await page.getByTestId('tab-postprocessing').click();
  // Random-weight detectors usually find no face: then the tab says the image is unchanged.
  if (bothSteps[1].faces === 0) await expect(page.getByTestId('pp-job-note')).toHaveText(/No face was found/);
  else await expect(page.getByTestId('pp-job-note')).toHaveCount(0);
});
