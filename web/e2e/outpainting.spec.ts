/** Outpainting in real Chromium against the real server: extend the parrot, then extend the result again;
 * a Control section unit steers the new strip. */
import path from 'node:path';
import type { Page } from '@playwright/test';
import { expect, resultCount, screenshot, setNumber, setSwitch, test, waitForResults } from './support/fixtures';
import { FIXTURES } from './support/env';

const PARROT = path.join(FIXTURES, 'lincoln-parrot-128.png');
const SEAM = 8;

interface Pixels {
  width: number;
  height: number;
  data: number[];
}

/** The decoded RGBA pixels of a served PNG, read in the page without colour management. */
async function pixels(page: Page, url: string): Promise<Pixels> {
  return page.evaluate(async (u) => {
    const blob = await (await fetch(u)).blob();
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2d context');
    ctx.drawImage(bitmap, 0, 0);
    return { width: bitmap.width, height: bitmap.height, data: Array.from(ctx.getImageData(0, 0, bitmap.width, bitmap.height).data) };
  }, url);
}

/** How many pixels of `a`'s region [x0,x1)×[y0,y1) differ from the same pixels of `b`. */
function differing(a: Pixels, b: Pixels, x0: number, x1: number, y0: number, y1: number): number {
  let count = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const ia = (y * a.width + x) * 4;
      const ib = (y * b.width + x) * 4;
      if (a.data[ia] !== b.data[ib] || a.data[ia + 1] !== b.data[ib + 1] || a.data[ia + 2] !== b.data[ib + 2] || a.data[ia + 3] !== b.data[ib + 3]) count++;
    }
  }
  return count;
}

/** Opaque, and not one flat colour: the standard deviation of the region's RGB values and its least alpha. */
function regionStats(p: Pixels, x0: number, x1: number, y0: number, y1: number): { std: number; minAlpha: number } {
  const values: number[] = [];
  let minAlpha = 255;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * p.width + x) * 4;
      values.push(p.data[i], p.data[i + 1], p.data[i + 2]);
      minAlpha = Math.min(minAlpha, p.data[i + 3]);
    }
  }
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  return { std, minAlpha };
}

/** Presses Invoke and waits until the outpainting's result is the tab's picture; returns its url. */
async function outpaintAndWait(page: Page, previousSource: string): Promise<string> {
  const before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await waitForResults(page, before + 1);
  const source = page.getByTestId('outpaint-source');
  await expect(source).not.toHaveAttribute('data-url', previousSource, { timeout: 30_000 });
  const url = (await source.getAttribute('data-url')) ?? '';
  expect(url).not.toMatch(/init-images/);
  await expect(page.getByTestId('outpaint-status')).toContainText('last result is now the picture');
  await expect(page.getByTestId('cancel')).toBeDisabled({ timeout: 60_000 });
  return url;
}

/** Opens the Outpainting tab and uploads the parrot as the picture to extend; its url. */
async function outpaintTheParrot(page: Page): Promise<string> {
  await page.getByTestId('tab-outpainting').click();
  await expect(page.getByTestId('tab-outpainting')).toHaveAttribute('aria-selected', 'true');
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId('outpaint-dropzone').click();
  await (await chooser).setFiles(PARROT);
  const source = page.getByTestId('outpaint-source');
  await expect(source).toHaveAttribute('data-url', /init-images\//);
  return (await source.getAttribute('data-url')) ?? '';
}

test('outpainting grows the picture: 64 px to the right, then 64 px at the bottom', async ({ app: page, sent }) => {
  test.setTimeout(240_000);
  await page.getByTestId('tab-outpainting').click();
  await expect(page.getByTestId('width')).toHaveCount(0); // the size comes from the picture
  await expect(page.getByTestId('invoke')).toBeDisabled();

  const parrotUrl = await outpaintTheParrot(page);
  const source = page.getByTestId('outpaint-source');
  await expect(page.getByTestId('outpaint-strength')).toHaveValue('1');
  await expect(page.getByTestId('seam-size')).toHaveValue(String(SEAM));

  await page.getByTestId('prompt').fill('a stormy sea beyond the frame');
  await setNumber(page, 'steps', 4);

  // Drag the right edge handle outwards by 64 image pixels (at the stage's display scale); it snaps to 8.
  const frame = page.getByTestId('outpaint-frame');
  const handle = page.getByTestId('outpaint-handle-right');
  const frameBox = await frame.boundingBox();
  const handleBox = await handle.boundingBox();
  if (!frameBox || !handleBox) throw new Error('the stage is not laid out');
  const scale = frameBox.width / 128;
  const hx = handleBox.x + handleBox.width / 2;
  const hy = handleBox.y + handleBox.height / 2;
  await page.mouse.move(hx, hy);
  await page.mouse.down();
  await page.mouse.move(hx + 30 * scale, hy, { steps: 4 });
  await page.mouse.move(hx + 62 * scale, hy, { steps: 4 });
  await page.mouse.up();
  await expect(page.getByTestId('outpaint-right')).toHaveValue('64');
  await expect(handle).toHaveAttribute('aria-valuenow', '64');
  await expect(page.getByTestId('outpaint-size')).toHaveText('128×128 → 192×128');
  await expect(frame).toHaveAttribute('data-width', '192');
  // The keyboard works the handle too: outwards and back.
  await handle.focus();
  await handle.press('ArrowRight');
  await expect(page.getByTestId('outpaint-right')).toHaveValue('72');
  await handle.press('ArrowLeft');
  await expect(page.getByTestId('outpaint-right')).toHaveValue('64');

  for (const theme of ['dark', 'light'] as const) {
    if ((await page.locator('html').getAttribute('data-theme')) !== theme) await page.getByTestId('theme-toggle').click();
    await page.waitForTimeout(300); // let the colour transitions finish
    await screenshot(page, `outpainting-${theme}`);
  }
  await page.getByTestId('theme-toggle').click();
  // On a phone the stage keeps a usable height and the page does not scroll sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  const phoneStage = await page.getByTestId('outpaint-stage').boundingBox();
  expect(phoneStage?.height ?? 0).toBeGreaterThanOrEqual(300);
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  await screenshot(page, 'outpainting-dark-phone');
  await page.setViewportSize({ width: 1280, height: 800 });

  const started = Date.now();
  const first = await outpaintAndWait(page, parrotUrl);
  const gen = sent.filter((s) => s.event === 'generateImage').at(-1);
  const params = gen?.args[0] as Record<string, unknown>;
  expect(params).toMatchObject({
    width: 192,
    height: 128,
    strength: 1,
    fit: false,
    seam_size: SEAM,
    bounding_box: { x: 0, y: 0, width: 192, height: 128 },
    inpaint_replace: 0,
    steps: 4,
  });
  expect(params.init_img).toMatch(/^outputs\/canvas-images\/.*outpaint/); // kept out of the Uploads gallery
  expect(params).not.toHaveProperty('init_mask');
  // The composite went up as an upload with destination 'outpainting' before generateImage.
  const upload = sent.findIndex((s) => s.event === 'uploadImage' && s.args[2] === 'outpainting');
  expect(upload).toBeGreaterThanOrEqual(0);
  expect(upload).toBeLessThan(sent.findIndex((s) => s.event === 'generateImage'));
  console.log(`first outpainting took ${Date.now() - started} ms`);

  // The composite the server received: the parrot at (0, 0) and a fully transparent strip.
  const composite = await pixels(page, String(params.init_img));
  const parrot = await pixels(page, parrotUrl);
  expect([composite.width, composite.height]).toEqual([192, 128]);
  expect(differing(composite, parrot, 0, 128, 0, 128)).toBe(0);
  expect(regionStats(composite, 128, 192, 0, 128).minAlpha).toBe(0);

  const result = await pixels(page, first);
  expect([result.width, result.height]).toEqual([192, 128]);
  // Columns farther than the seam from the old edge (x < 128 - SEAM) are the parrot, bit for bit;
  // the SEAM columns next to the edge are blended into the new strip.
  expect(differing(result, parrot, 0, 128 - SEAM, 0, 128)).toBe(0);
  const strip = regionStats(result, 128, 192, 0, 128);
  expect(strip.minAlpha).toBe(255);
  expect(strip.std).toBeGreaterThan(5);

  // Again, at the bottom: the result of the first becomes the picture and grows to 192×192.
  await expect(page.getByTestId('outpaint-right')).toHaveValue('0');
  await setNumber(page, 'outpaint-bottom', 64);
  await expect(page.getByTestId('outpaint-size')).toHaveText('192×128 → 192×192');
  // A wider seam this time: 16 px of the first result above the new strip are blended, the rest kept.
  const WIDE_SEAM = 16;
  await setNumber(page, 'seam-size', WIDE_SEAM);
  const second = await outpaintAndWait(page, first);
  const grown = await pixels(page, second);
  expect([grown.width, grown.height]).toEqual([192, 192]);
  expect(differing(grown, result, 0, 192, 0, 128 - WIDE_SEAM)).toBe(0);
  expect(differing(grown, result, 0, 192, 128 - WIDE_SEAM, 128 - SEAM)).toBeGreaterThan(0);
  const bottom = regionStats(grown, 0, 192, 128, 192);
  expect(bottom.minAlpha).toBe(255);
  expect(bottom.std).toBeGreaterThan(5);
  const last = sent.filter((s) => s.event === 'generateImage').at(-1)?.args[0] as Record<string, unknown>;
  expect(last).toMatchObject({ width: 192, height: 192, seam_size: WIDE_SEAM, bounding_box: { x: 0, y: 0, width: 192, height: 192 } });

  // Undo goes back to the first result.
  await page.getByTestId('outpaint-undo').click();
  await expect(source).toHaveAttribute('data-url', first);
});

/** The ControlNet tests/support/make_root.py puts in the e2e root's models.yaml. */
const CONTROL_MODEL = 'tiny-control';

test('outpainting with a control unit sends it and fills the new strip otherwise than without it', async ({ app: page, sent }) => {
  test.setTimeout(240_000);
  const parrotUrl = await outpaintTheParrot(page);
  const source = page.getByTestId('outpaint-source');
  await page.getByTestId('prompt').fill('a stormy sea beyond the frame');
  await setNumber(page, 'steps', 3);
  await setNumber(page, 'outpaint-right', 64);
  await expect(page.getByTestId('outpaint-size')).toHaveText('128×128 → 192×128');

  // The Control section is on this tab too: a unit with the parrot as its picture.
  await page.getByTestId('control-add').click();
  await expect(page.getByTestId('control-model-0')).toHaveValue(CONTROL_MODEL);
  // Without a picture of its own the unit would take the picture being extended, and says so.
  await expect(page.getByTestId('control-init-note-0')).toHaveText('Without a picture, Invoke uses the picture being extended.');
  await expect(page.getByTestId('control-problem-0')).toHaveCount(0);
  const pictureChooser = page.waitForEvent('filechooser');
  await page.getByTestId('control-upload-0').click();
  await (await pictureChooser).setFiles(PARROT);
  await expect(page.getByTestId('control-picture-0')).toHaveAttribute('src', /outputs\/control-images\//);
  const controlPicture = (await page.getByTestId('control-picture-0').getAttribute('src')) ?? '';
  // Its map is previewed at the grown picture's size.
  await page.getByTestId('control-preview-0').click();
  await expect(page.getByTestId('control-map-0')).toHaveAttribute('src', /control-images\/.*\.png$/);
  const map = await pixels(page, (await page.getByTestId('control-map-0').getAttribute('src')) ?? '');
  expect([map.width, map.height]).toEqual([192, 128]);

  const controlled = await outpaintAndWait(page, parrotUrl);
  const withUnit = sent.filter((s) => s.event === 'generateImage').at(-1)?.args[0] as Record<string, unknown>;
  expect(withUnit).toMatchObject({ width: 192, height: 128, init_img: expect.stringMatching(/canvas-images\/.*outpaint/) });
  expect(withUnit.control).toEqual([
    { model: CONTROL_MODEL, image: controlPicture, preprocessor: 'none', settings: {}, weight: 1, start: 0, end: 1, control_mode: 'balanced', resize_mode: 'crop' },
  ]);

  // The same outpainting (same picture, seed and strip) without the unit.
  await setSwitch(page, 'randomize-seed', false);
  await page.getByTestId('outpaint-undo').click();
  await expect(source).toHaveAttribute('data-url', parrotUrl);
  await setNumber(page, 'outpaint-right', 64);
  await page.getByTestId('section-control-switch').setChecked(false);
  const plain = await outpaintAndWait(page, parrotUrl);
  const withoutUnit = sent.filter((s) => s.event === 'generateImage').at(-1)?.args[0] as Record<string, unknown>;
  expect(withoutUnit).not.toHaveProperty('control');
  expect(withoutUnit.seed).toBe(withUnit.seed);

  const a = await pixels(page, controlled);
  const b = await pixels(page, plain);
  const parrot = await pixels(page, parrotUrl);
  // Both keep the parrot away from the seam; the strip the model filled differs.
  expect(differing(a, parrot, 0, 128 - SEAM, 0, 128)).toBe(0);
  expect(differing(b, parrot, 0, 128 - SEAM, 0, 128)).toBe(0);
  expect(differing(a, b, 128, 192, 0, 128)).toBeGreaterThan(64 * 128 * 0.25);
});
