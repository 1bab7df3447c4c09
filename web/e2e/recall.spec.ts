/** Use All is exact: in every mode, Use All on a result and Invoke again gives the same pixels, bit for bit.
 * Between the two runs each test changes the settings Use All must bring back (Images among them: the
 * recipe is of one image), so a setting left behind shows as a different picture or an extra one. */
import path from 'node:path';
import type { Page } from '@playwright/test';
import {
  expect,
  invokeAndWait,
  newestResults,
  pixelDigest,
  resultCount,
  setNumber,
  setSwitch,
  smallSettings,
  test,
  waitForResults,
  servedPixels,
  type Pixels,
} from './support/fixtures';
import { FIXTURES } from './support/env';

const PARROT = path.join(FIXTURES, 'lincoln-parrot-128.png');

const thumbOf = (page: Page, url: string) => page.getByTestId('gallery-grid-result').locator(`[data-url="${url}"]`);

/** Use All from the gallery thumbnail, which every tab shows. */
async function useAll(page: Page, url: string): Promise<void> {
  await thumbOf(page, url).hover();
  await thumbOf(page, url).getByTestId('thumb-use-all').click();
  await expect(page.getByTestId('toast-success').filter({ hasText: 'Loaded all parameters' }).last()).toBeVisible();
}

/** Invoke, then exactly one new result once the queue is idle: its URL. (A batch left at two images fails
 * here at once rather than timing out.) */
async function invokeOnce(page: Page): Promise<string> {
  const before = await resultCount(page);
  await page.getByTestId('invoke').click();
  const deadline = Date.now() + 90_000;
  while ((await resultCount(page)) === before) {
    const errors = page.getByTestId('toast-error');
    if ((await errors.count()) > 0) throw new Error(`The server reported: ${await errors.first().textContent()}`);
    if (Date.now() > deadline) throw new Error('No result came within 90 s.');
    await page.waitForTimeout(100);
  }
  await expect(page.getByTestId('cancel')).toBeDisabled({ timeout: 60_000 });
  expect(await resultCount(page), 'results of one Invoke after Use All').toBe(before + 1);
  const [url] = await newestResults(page, 1);
  return url;
}

async function expectTab(page: Page, tab: string): Promise<void> {
  await expect(page.getByTestId(`tab-${tab}`)).toHaveAttribute('aria-selected', 'true');
}

async function choose(page: Page, dropzone: string, file: string): Promise<void> {
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId(dropzone).click();
  await (await chooser).setFiles(file);
}

/** RGBA pixels of one of the stage's canvases (image layer or mask overlay). */
async function canvasPixels(page: Page, testId: string): Promise<Pixels> {
  return page.getByTestId(testId).evaluate((el) => {
    const canvas = el as HTMLCanvasElement;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no context');
    return { w: canvas.width, h: canvas.height, d: Array.from(ctx.getImageData(0, 0, canvas.width, canvas.height).data) };
  });
}

/** Where an image pixel of the Inpainting stage is on screen. */
async function screenPoint(page: Page, stageId: string, cx: number, cy: number) {
  const stage = page.getByTestId(stageId);
  const box = await stage.boundingBox();
  if (!box) throw new Error('stage has no box');
  const scale = Number(await stage.getAttribute('data-scale'));
  const [vx, vy] = ((await stage.getAttribute('data-view')) ?? '0,0').split(',').map(Number);
  return { x: box.x + vx + cx * scale, y: box.y + vy + cy * scale };
}

async function paintStroke(page: Page, from: [number, number], to: [number, number]): Promise<void> {
  const a = await screenPoint(page, 'inpainting-stage', ...from);
  const b = await screenPoint(page, 'inpainting-stage', ...to);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(b.x, b.y, { steps: 10 });
  await page.mouse.up();
}

const lastGeneration = (sent: Array<{ event: string; args: unknown[] }>) =>
  sent.filter((s) => s.event === 'generateImage').at(-1)?.args[0] as Record<string, unknown>;

/** A mask's values as the server reads them (above half = regenerate), one per pixel. */
const maskBits = (p: Pixels) => Array.from({ length: p.w * p.h }, (_, i) => (p.d[i * 4] > 127 ? 1 : 0));

test('text to image: Use All brings back the model and the settings, and Invoke repeats the image exactly', async ({ app: page }) => {
  await page.getByTestId('prompt').fill('strawberry sushi');
  await smallSettings(page, 64, 3);
  await setNumber(page, 'iterations', 2);
  const [target] = await invokeAndWait(page, 2); // the second of the batch: its seed is not the one typed
  const digest = await pixelDigest(page, target);

  await setNumber(page, 'steps', 5);
  await setNumber(page, 'cfg-scale', 12);
  await setNumber(page, 'width', 128);
  await page.getByTestId('sampler').selectOption('ddim');
  const picker = page.getByTestId('model-picker');
  await picker.selectOption('demo-alt');
  await expect(page.getByTestId('toast-success').filter({ hasText: 'Model changed to demo-alt.' })).toBeVisible({ timeout: 90_000 });

  await useAll(page, target);
  await expect(page.getByTestId('toast-success').filter({ hasText: 'Model changed to demo.' })).toBeVisible({ timeout: 90_000 });
  await expect(picker).toHaveValue('demo');
  await expect(page.getByTestId('iterations')).toHaveValue('1');
  await expect(page.getByTestId('width')).toHaveValue('64');
  const again = await invokeOnce(page);
  expect(await pixelDigest(page, again)).toBe(digest);
});

test('image to image: Use All brings back the initial image, strength and fit, and Invoke repeats the image exactly', async ({ app: page }) => {
  await page.getByTestId('tab-img2img').click();
  await choose(page, 'init-image-dropzone', PARROT);
  await expect(page.getByTestId('init-image')).toHaveAttribute('data-url', /init-images\//);
  const init = (await page.getByTestId('init-image').getAttribute('data-url')) ?? '';
  await page.getByTestId('prompt').fill('old sea captain');
  await setNumber(page, 'steps', 3);
  await setNumber(page, 'img2img-strength', 0.6);
  await setSwitch(page, 'fit', false); // the parrot's own 128×128
  const [target] = await invokeAndWait(page, 1);
  const digest = await pixelDigest(page, target);

  await setNumber(page, 'iterations', 2);
  await page.getByTestId('clear-init-image').click();
  await setNumber(page, 'img2img-strength', 0.3);
  await setSwitch(page, 'fit', true);
  await page.getByTestId('tab-txt2img').click();

  await useAll(page, target);
  await expectTab(page, 'img2img');
  await expect(page.getByTestId('init-image')).toHaveAttribute('data-url', init);
  await expect(page.getByTestId('img2img-strength')).toHaveValue('0.6');
  await expect(page.getByTestId('fit')).not.toBeChecked();
  const again = await invokeOnce(page);
  expect(await pixelDigest(page, again)).toBe(digest);
});

test('inpainting: Use All reopens the picture with its painted mask, and Invoke repeats the image exactly', async ({ app: page, sent }) => {
  await page.getByTestId('tab-inpainting').click();
  await choose(page, 'inpainting-dropzone', PARROT);
  await expect(page.getByTestId('inpainting-image-layer')).toHaveAttribute('data-drawn', '1');
  await page.getByTestId('prompt').fill('a red flower');
  await setNumber(page, 'steps', 3);
  await setNumber(page, 'canvas-strength', 0.8);
  await setNumber(page, 'inpaint-replace', 0.5);
  await setNumber(page, 'seam-size', 12);
  await paintStroke(page, [20, 30], [70, 50]);
  await expect(page.getByTestId('inpainting-mask-layer')).toHaveAttribute('data-strokes', '1');
  const painted = await canvasPixels(page, 'inpainting-mask-layer');
  const [target] = await invokeAndWait(page, 1);
  const first = lastGeneration(sent);
  const digest = await pixelDigest(page, target);

  await setNumber(page, 'iterations', 2);
  await page.getByTestId('mask-clear').click();
  await setNumber(page, 'canvas-strength', 0.3);
  await setNumber(page, 'inpaint-replace', 0);
  await setNumber(page, 'seam-size', 4);
  await page.getByTestId('tab-txt2img').click();

  await useAll(page, target);
  await expectTab(page, 'inpainting');
  await expect(page.getByTestId('inpainting-image-layer')).toHaveAttribute('data-drawn', '1');
  await expect(page.getByTestId('inpainting-mask-layer')).toHaveAttribute('data-strokes', '1');
  // The mask layer shows the recorded mask: the painted one, pixel for pixel.
  await expect.poll(async () => (await canvasPixels(page, 'inpainting-mask-layer')).d.join()).toBe(painted.d.join());
  await expect(page.getByTestId('seam-size')).toHaveValue('12');
  await expect(page.getByTestId('inpaint-replace')).toHaveValue('0.5');
  await expect(page.getByTestId('canvas-strength')).toHaveValue('0.8');
  const again = await invokeOnce(page);
  const second = lastGeneration(sent);
  for (const key of ['init_img', 'bounding_box', 'inpaint_replace', 'seam_size', 'strength', 'seed', 'width', 'height']) {
    expect(second[key], key).toEqual(first[key]);
  }
  expect(maskBits(await servedPixels(page, String(second.init_mask)))).toEqual(maskBits(await servedPixels(page, String(first.init_mask))));
  expect(await pixelDigest(page, again)).toBe(digest);
});

test('outpainting: Use All reopens the grown picture in Inpainting with its new area masked, and Invoke repeats the image exactly', async ({ app: page }) => {
  await page.getByTestId('tab-outpainting').click();
  await choose(page, 'outpaint-dropzone', PARROT);
  await expect(page.getByTestId('outpaint-source')).toHaveAttribute('data-url', /init-images\//);
  await page.getByTestId('prompt').fill('a stormy sea beyond the frame');
  await setNumber(page, 'steps', 3);
  await setNumber(page, 'outpaint-right', 64);
  await setNumber(page, 'outpaint-strength', 0.9);
  await setNumber(page, 'seam-size', 16);
  await setNumber(page, 'inpaint-replace', 0.5);
  const before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await waitForResults(page, before + 1);
  await expect(page.getByTestId('outpaint-status')).toContainText('last result is now the picture');
  await expect(page.getByTestId('cancel')).toBeDisabled({ timeout: 60_000 });
  const target = (await page.getByTestId('outpaint-source').getAttribute('data-url')) ?? '';
  const digest = await pixelDigest(page, target);

  await setNumber(page, 'iterations', 2);
  await page.getByTestId('tab-txt2img').click();

  await useAll(page, target);
  await expectTab(page, 'inpainting');
  await expect(page.getByTestId('inpainting-size')).toHaveText('192×128');
  await expect(page.getByTestId('inpainting-image-layer')).toHaveAttribute('data-drawn', '1');
  // The mask is the frame's transparent strip: every pixel right of the parrot, none of the parrot.
  const mask = await canvasPixels(page, 'inpainting-mask-layer');
  const alpha = (x: number, y: number) => mask.d[(y * mask.w + x) * 4 + 3];
  for (const y of [0, 64, 127]) {
    expect([alpha(0, y), alpha(127, y), alpha(128, y), alpha(191, y)]).toEqual([0, 0, 255, 255]);
  }
  await expect(page.getByTestId('seam-size')).toHaveValue('16');
  await expect(page.getByTestId('inpaint-replace')).toHaveValue('0.5');
  await expect(page.getByTestId('canvas-strength')).toHaveValue('0.9');
  const again = await invokeOnce(page);
  expect(await pixelDigest(page, again)).toBe(digest);
});

test('unified canvas: Use All on a region half over an image reopens it in Inpainting, and Invoke repeats it exactly', async ({ app: page }) => {
  await page.getByTestId('tab-canvas').click();
  await page.getByTestId('prompt').fill('a castle on a hill');
  await setNumber(page, 'width', 128);
  await setNumber(page, 'height', 128);
  await setNumber(page, 'steps', 3);
  await setNumber(page, 'seam-size', 10);
  await expect(page.getByTestId('bounding-box')).toHaveAttribute('data-box', /,128,128$/);
  const [bx, by] = ((await page.getByTestId('bounding-box').getAttribute('data-box')) ?? '').split(',').map(Number);
  await choose(page, 'canvas-upload', PARROT);
  await expect(page.getByTestId('canvas-image-layer')).toHaveAttribute('data-drawn', '1');
  await setNumber(page, 'box-x', bx + 64); // half over the parrot, half over empty canvas
  await expect(page.getByTestId('bounding-box')).toHaveAttribute('data-box', `${bx + 64},${by},128,128`);
  const before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await waitForResults(page, before + 1);
  await expect(page.getByTestId('staging-image')).toBeVisible();
  await expect(page.getByTestId('cancel')).toBeDisabled({ timeout: 60_000 });
  const target = (await page.getByTestId('staging-image').getAttribute('data-url')) ?? '';
  const digest = await pixelDigest(page, target);

  await setNumber(page, 'seam-size', 2);
  await setNumber(page, 'iterations', 2);

  await useAll(page, target);
  await expectTab(page, 'inpainting');
  await expect(page.getByTestId('inpainting-size')).toHaveText('128×128');
  await expect(page.getByTestId('inpainting-mask-layer')).toHaveAttribute('data-strokes', '1');
  await expect(page.getByTestId('seam-size')).toHaveValue('10');
  const again = await invokeOnce(page);
  expect(await pixelDigest(page, again)).toBe(digest);
});

test('variations: Use All brings back the base seed and the seed weights, and Invoke repeats the variation exactly', async ({ app: page }) => {
  await page.getByTestId('prompt').fill('strawberry sushi');
  await smallSettings(page, 64, 3);
  await setSwitch(page, 'randomize-seed', false);
  await setNumber(page, 'seed', 4321);
  await setSwitch(page, 'section-variations-switch', true);
  await setNumber(page, 'variation-amount', 0.3);
  await page.getByTestId('seed-weights').fill('77:0.1');
  await setNumber(page, 'iterations', 2);
  const [target] = await invokeAndWait(page, 2);
  const digest = await pixelDigest(page, target);

  await setNumber(page, 'seed', 1);
  await setNumber(page, 'variation-amount', 0.5);
  await page.getByTestId('seed-weights').fill('');

  await useAll(page, target);
  await expect(page.getByTestId('seed')).toHaveValue('4321');
  await expect(page.getByTestId('seed-weights')).toHaveValue(/^77:0\.1,\d+:0\.3$/);
  await expect(page.getByTestId('variation-amount')).toHaveValue('0');
  const again = await invokeOnce(page);
  expect(await pixelDigest(page, again)).toBe(digest);
});

test('hires fix: Use All brings back the fix and its strength, and Invoke repeats the two-pass image exactly', async ({ app: page }) => {
  test.setTimeout(180_000);
  await page.getByTestId('prompt').fill('a wide valley');
  // Above 512 on the short side, so the fix really makes a first pass and a second.
  await smallSettings(page, 576, 2);
  await setNumber(page, 'height', 520);
  await page.getByTestId('section-other').locator('.section__toggle').click();
  await setSwitch(page, 'hires-fix', true);
  await setNumber(page, 'hires-strength', 0.6);
  const [target] = await invokeAndWait(page, 1);
  const digest = await pixelDigest(page, target);

  await setSwitch(page, 'hires-fix', false);
  await smallSettings(page, 64, 3);
  await setNumber(page, 'iterations', 2);

  await useAll(page, target);
  await expect(page.getByTestId('hires-fix')).toBeChecked();
  await expect(page.getByTestId('hires-strength')).toHaveValue('0.6');
  await expect(page.getByTestId('width')).toHaveValue('576');
  const again = await invokeOnce(page);
  expect(await pixelDigest(page, again)).toBe(digest);
});

test('clip skip: Use All brings it back, Invoke sends it, and the image repeats exactly', async ({ app: page, sent, received }) => {
  await page.getByTestId('prompt').fill('a paper lantern');
  await smallSettings(page, 64, 3);
  await page.getByTestId('section-other').locator('.section__toggle').click();
  await setNumber(page, 'clip-skip', 1); // the demo model's text encoder has two layers: skip the last
  const [target] = await invokeAndWait(page, 1);
  const digest = await pixelDigest(page, target);
  const first = sent.filter((s) => s.event === 'generateImage').at(-1);
  expect(first?.args[0]).toMatchObject({ clip_skip: 1 });
  // The job's result came back carrying the request id this page sent the job with.
  const requestId = first?.args[3];
  expect(requestId).toMatch(/^request-/);
  const results = received.filter((r) => r.event === 'generationResult').map((r) => r.args[0] as { url: string; requestId?: string });
  expect(results.find((r) => r.url === target)?.requestId).toBe(requestId);

  await setNumber(page, 'clip-skip', 0);
  await setNumber(page, 'iterations', 2);
  await useAll(page, target);
  await expect(page.getByTestId('clip-skip')).toHaveValue('1');
  const again = await invokeOnce(page);
  expect(lastGeneration(sent)).toMatchObject({ clip_skip: 1 });
  expect(await pixelDigest(page, again)).toBe(digest);
});
