/** The Inpainting and Unified Canvas tabs in real Chromium: real mouse strokes, the real server and the demo model. */
import path from 'node:path';
import type { Page } from '@playwright/test';
import {
  expect,
  invokeAndWait,
  resultCount,
  screenshot,
  servedPixels,
  setNumber,
  smallSettings,
  test,
  waitForResults,
  type Pixels,
} from './support/fixtures';
import { FIXTURES } from './support/env';

const PARROT = path.join(FIXTURES, 'lincoln-parrot-128.png');

/** RGBA pixels of a region of one of the stage's canvases (image layer or mask overlay). */
async function canvasPixels(page: Page, testId: string, x = 0, y = 0, w?: number, h?: number): Promise<Pixels> {
  return page.getByTestId(testId).evaluate(
    (el, r) => {
      const canvas = el as HTMLCanvasElement;
      const ctx = canvas.getContext('2d');
      if (!ctx) throw new Error('no context');
      const width = r.w ?? canvas.width;
      const height = r.h ?? canvas.height;
      return { w: width, h: height, d: Array.from(ctx.getImageData(r.x, r.y, width, height).data) };
    },
    { x, y, w, h },
  );
}

/** Where a canvas pixel is on screen, from the stage's transform. */
async function screenPoint(page: Page, stageId: string, cx: number, cy: number) {
  const stage = page.getByTestId(stageId);
  const box = await stage.boundingBox();
  if (!box) throw new Error('stage has no box');
  const scale = Number(await stage.getAttribute('data-scale'));
  const [vx, vy] = ((await stage.getAttribute('data-view')) ?? '0,0').split(',').map(Number);
  return { x: box.x + vx + cx * scale, y: box.y + vy + cy * scale };
}

async function paintStroke(page: Page, stageId: string, from: [number, number], to: [number, number]) {
  const a = await screenPoint(page, stageId, ...from);
  const b = await screenPoint(page, stageId, ...to);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(b.x, b.y, { steps: 12 });
  await page.mouse.up();
}

const alphaCount = (p: Pixels) => {
  let n = 0;
  for (let i = 3; i < p.d.length; i += 4) if (p.d[i] > 0) n++;
  return n;
};

const sameRgba = (a: Pixels, b: Pixels) => a.w === b.w && a.h === b.h && a.d.every((v, i) => v === b.d[i]);

function distanceToSegment(px: number, py: number, [ax, ay]: [number, number], [bx, by]: [number, number]): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(ax + t * dx - px, ay + t * dy - py);
}

async function toggleTheme(page: Page, theme: 'dark' | 'light') {
  if ((await page.locator('html').getAttribute('data-theme')) !== theme) await page.getByTestId('theme-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', theme);
}

test('inpainting: a real brush stroke is regenerated, everything far from it is kept bit for bit', async ({ app: page, sent }) => {
  await page.getByTestId('tab-inpainting').click();
  await expect(page.getByTestId('inpainting-dropzone')).toBeVisible();
  await screenshot(page, 'inpainting-empty-dark');
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId('inpainting-dropzone').click();
  await (await chooser).setFiles(PARROT);
  await expect(page.getByTestId('inpainting-image-layer')).toHaveAttribute('data-drawn', '1');
  await expect(page.getByTestId('inpainting-size')).toHaveText('128×128');
  await page.getByTestId('prompt').fill('a red flower');
  await setNumber(page, 'steps', 4);
  await expect(page.getByTestId('seam-size')).toHaveValue('8');
  await expect(page.getByTestId('width')).toHaveCount(0); // the picture's own size is used

  // The brush: 24 px, a stroke from (30, 40) to (60, 40) in image pixels, drawn with the real mouse.
  const from: [number, number] = [30, 40];
  const to: [number, number] = [60, 40];
  await paintStroke(page, 'inpainting-stage', from, to);
  await expect(page.getByTestId('inpainting-mask-layer')).toHaveAttribute('data-strokes', '1');
  const painted = await canvasPixels(page, 'inpainting-mask-layer');
  expect(painted.w).toBe(128);
  expect(alphaCount(painted)).toBeGreaterThan(500);
  expect(painted.d[(40 * 128 + 45) * 4 + 3]).toBe(255);
  expect(painted.d[(100 * 128 + 100) * 4 + 3]).toBe(0);

  // Undo empties the mask, and Invoke then says so instead of sending anything.
  await page.getByTestId('mask-undo').click();
  await expect(page.getByTestId('inpainting-mask-layer')).toHaveAttribute('data-strokes', '0');
  expect(alphaCount(await canvasPixels(page, 'inpainting-mask-layer'))).toBe(0);
  const sentBefore = sent.filter((s) => s.event === 'generateImage').length;
  await page.getByTestId('invoke').click();
  await expect(page.getByTestId('toast-info').filter({ hasText: 'Nothing is masked' })).toBeVisible();
  await page.waitForTimeout(300);
  expect(sent.filter((s) => s.event === 'generateImage').length).toBe(sentBefore);

  // Redo (Ctrl+Shift+Z) brings the same stroke back.
  await page.locator('body').click({ position: { x: 5, y: 700 } });
  await page.keyboard.press('Control+Shift+Z');
  await expect(page.getByTestId('inpainting-mask-layer')).toHaveAttribute('data-strokes', '1');
  expect(sameRgba(await canvasPixels(page, 'inpainting-mask-layer'), painted)).toBe(true);
  await screenshot(page, 'inpainting-dark');

  const before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await waitForResults(page, before + 1);
  await expect(page.getByTestId('cancel')).toBeDisabled({ timeout: 60_000 });
  const gen = sent.filter((s) => s.event === 'generateImage').at(-1);
  const params = gen?.args[0] as Record<string, unknown>;
  const resultUrl = (await page.getByTestId('inpainting-result').locator('img').getAttribute('data-url')) ?? '';
  expect(params).toMatchObject({
    init_img: expect.stringMatching(/init-images\//),
    init_mask: expect.stringMatching(/^data:image\/png;base64,/),
    is_mask_empty: false,
    bounding_box: { x: 0, y: 0, width: 128, height: 128 },
    width: 128,
    height: 128,
    seam_size: 8,
    inpaint_replace: 0,
    fit: false,
  });

  const source = await servedPixels(page, params.init_img as string);
  const result = await servedPixels(page, resultUrl);
  expect([result.w, result.h]).toEqual([128, 128]);
  // Brush radius + seam (measured as a Euclidean distance by the server) + rounding of pixel centres.
  const keepBeyond = 12 + 8 + 1.5;
  let kept = 0;
  let changedFar = 0;
  let changedInStroke = 0;
  let farthestChange = 0;
  for (let y = 0; y < 128; y++) {
    for (let x = 0; x < 128; x++) {
      const d = distanceToSegment(x + 0.5, y + 0.5, from, to);
      const i = (y * 128 + x) * 4;
      const differs = source.d[i] !== result.d[i] || source.d[i + 1] !== result.d[i + 1] || source.d[i + 2] !== result.d[i + 2];
      if (differs) farthestChange = Math.max(farthestChange, d);
      if (d > keepBeyond) {
        kept++;
        if (differs) changedFar++;
      } else if (d < 6 && differs) {
        changedInStroke++;
      }
    }
  }
  expect(kept).toBeGreaterThan(10000);
  expect(changedFar, `changed pixels up to ${farthestChange.toFixed(2)} px from the stroke`).toBe(0);
  expect(changedInStroke).toBeGreaterThan(100);
  // The mask sent is a PNG of the image's size: white under the stroke, black elsewhere, opaque.
  const mask = await servedPixels(page, params.init_mask as string);
  expect([mask.w, mask.h]).toEqual([128, 128]);
  expect(mask.d.slice((40 * 128 + 45) * 4, (40 * 128 + 45) * 4 + 4)).toEqual([255, 255, 255, 255]);
  expect(mask.d.slice((100 * 128 + 100) * 4, (100 * 128 + 100) * 4 + 4)).toEqual([0, 0, 0, 255]);
  const mismatched = Array.from({ length: 128 * 128 }, (_, i) => i).filter((i) => mask.d[i * 4] !== painted.d[i * 4 + 3]);
  expect(mismatched, 'mask pixels that differ from the painted overlay').toEqual([]);

  // Iterative inpainting: the result becomes the image, and the mask (same size) stays for another pass.
  await page.getByTestId('inpainting-use-result').click();
  await expect(page.getByTestId('inpainting-image-layer')).toHaveAttribute('data-drawn', '1');
  await expect.poll(async () => sameRgba(await canvasPixels(page, 'inpainting-image-layer'), result)).toBe(true);
  await expect(page.getByTestId('inpainting-mask-layer')).toHaveAttribute('data-strokes', '1');
  await expect.poll(async () => sameRgba(await canvasPixels(page, 'inpainting-mask-layer'), painted)).toBe(true);

  await toggleTheme(page, 'light');
  await screenshot(page, 'inpainting-light');
  await toggleTheme(page, 'dark');
});

test('unified canvas: a box half over an image is outpainted, staged, accepted; a discarded result changes nothing', async ({ app: page, sent }) => {
  await page.getByTestId('tab-canvas').click();
  await expect(page.getByTestId('canvas-empty-hint')).toBeVisible();
  await page.getByTestId('prompt').fill('a castle on a hill');
  await setNumber(page, 'width', 128);
  await setNumber(page, 'height', 128);
  await setNumber(page, 'steps', 4);
  await expect(page.getByTestId('bounding-box')).toHaveAttribute('data-box', /,128,128$/);
  const [bx, by] = ((await page.getByTestId('bounding-box').getAttribute('data-box')) ?? '').split(',').map(Number);

  // Place the image at the box, then move the box 64 px right: half image, half empty canvas.
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId('canvas-upload').click();
  await (await chooser).setFiles(PARROT);
  await expect(page.getByTestId('canvas-image-layer')).toHaveAttribute('data-drawn', '1');
  const placed = await canvasPixels(page, 'canvas-image-layer', bx, by, 128, 128);
  expect(alphaCount(placed)).toBe(128 * 128);
  await page.getByTestId('zoom-fit').click();
  await page.getByTestId('tool-box').click();
  const handle = await page.getByTestId('bounding-box').boundingBox();
  if (!handle) throw new Error('no box');
  await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
  await page.mouse.down();
  const scale = Number(await page.getByTestId('canvas-stage').getAttribute('data-scale'));
  await page.mouse.move(handle.x + handle.width / 2 + 64 * scale, handle.y + handle.height / 2, { steps: 8 });
  await page.mouse.up();
  await expect(page.getByTestId('bounding-box')).toHaveAttribute('data-box', `${bx + 64},${by},128,128`);
  await expect(page.getByTestId('box-x')).toHaveValue(String(bx + 64));

  let before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await waitForResults(page, before + 1);
  await expect(page.getByTestId('staging-image')).toBeVisible();
  await expect(page.getByTestId('staging-count')).toHaveText('1/1');
  const staged = (await page.getByTestId('staging-image').getAttribute('data-url')) ?? '';
  expect(await page.getByTestId('staging-image').evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([128, 128]);
  const gen = sent.filter((s) => s.event === 'generateImage').at(-1);
  expect(gen?.args[0]).toMatchObject({
    init_img: expect.stringMatching(/canvas-images\/canvas-region-/), // kept out of the Uploads gallery
    init_mask: expect.stringMatching(/^data:image\/png;base64,/),
    width: 128,
    height: 128,
    bounding_box: { x: 0, y: 0, width: 128, height: 128 },
  });
  const regionUpload = sent.filter((s) => s.event === 'uploadImage' && s.args[2] === 'canvas-region').at(-1);
  expect(regionUpload?.args[1]).toMatch(/^canvas-region-.*\.png$/);
  await screenshot(page, 'canvas-staging-dark');

  // The kept half of the box (over the image) is unchanged in the result; the empty half was filled.
  const result = await servedPixels(page, staged);
  let filled = 0;
  for (let y = 0; y < 128; y++) for (let x = 64 + 9; x < 128; x++) if (result.d[(y * 128 + x) * 4 + 3] === 255) filled++;
  expect(filled).toBe(128 * (128 - 73));
  for (let y = 0; y < 128; y += 7) {
    for (let x = 0; x < 64 - 9; x += 5) {
      const r = (y * 128 + x) * 4;
      const p = (y * 128 + x + 64) * 4;
      expect([result.d[r], result.d[r + 1], result.d[r + 2]]).toEqual([placed.d[p], placed.d[p + 1], placed.d[p + 2]]);
    }
  }

  const beforeAccept = await canvasPixels(page, 'canvas-image-layer', bx + 64, by, 128, 128);
  await page.getByTestId('staging-accept').click();
  await expect(page.getByTestId('staging-image')).toHaveCount(0);
  await expect(page.getByTestId('canvas-image-layer')).toHaveAttribute('data-drawn', '2');
  expect(sameRgba(await canvasPixels(page, 'canvas-image-layer', bx + 64, by, 128, 128), result)).toBe(true);
  // Undo takes the accepted result off the canvas again; Redo puts it back.
  await page.getByTestId('mask-undo').click();
  await expect(page.getByTestId('canvas-image-layer')).toHaveAttribute('data-drawn', '1');
  expect(sameRgba(await canvasPixels(page, 'canvas-image-layer', bx + 64, by, 128, 128), beforeAccept)).toBe(true);
  await page.getByTestId('mask-redo').click();
  await expect(page.getByTestId('canvas-image-layer')).toHaveAttribute('data-drawn', '2');
  expect(sameRgba(await canvasPixels(page, 'canvas-image-layer', bx + 64, by, 128, 128), result)).toBe(true);

  // A second Invoke (the box is now fully covered: image to image), then Discard: the canvas is as it was.
  const whole = await canvasPixels(page, 'canvas-image-layer', bx - 64, by - 64, 320, 256);
  before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await waitForResults(page, before + 1);
  await expect(page.getByTestId('staging-image')).toBeVisible();
  await expect(page.getByTestId('cancel')).toBeDisabled({ timeout: 60_000 });
  const second = sent.filter((s) => s.event === 'generateImage').at(-1)?.args[0] as Record<string, unknown>;
  expect(second.init_img).toMatch(/canvas-region-/);
  expect(second.init_mask).toBeUndefined();
  await page.getByTestId('staging-discard').click();
  await expect(page.getByTestId('staging-image')).toHaveCount(0);
  await expect(page.getByTestId('canvas-image-layer')).toHaveAttribute('data-drawn', '2');
  expect(sameRgba(await canvasPixels(page, 'canvas-image-layer', bx - 64, by - 64, 320, 256), whole)).toBe(true);

  // Save to the gallery: one flattened PNG of everything on the canvas, in Uploads.
  const uploads = Number(await page.getByTestId('gallery-count-user').textContent());
  await page.getByTestId('canvas-save').click();
  await expect(page.getByTestId('toast-success').filter({ hasText: 'saved to the gallery' })).toBeVisible();
  await expect(page.getByTestId('gallery-count-user')).toHaveText(String(uploads + 1));
  const saved = sent.filter((s) => s.event === 'uploadImage').at(-1);
  expect(saved?.args[2]).toBe('canvas');

  await page.getByTestId('tool-brush').click();
  await paintStroke(page, 'canvas-stage', [bx + 100, by + 30], [bx + 160, by + 90]);
  await expect(page.getByTestId('canvas-mask-layer')).toHaveAttribute('data-strokes', '1');

  // A reload keeps the canvas: both images where they were, and the painted mask.
  const keptImages = await canvasPixels(page, 'canvas-image-layer', bx - 64, by - 64, 320, 256);
  const keptMask = await canvasPixels(page, 'canvas-mask-layer', bx, by, 256, 128);
  await page.reload();
  await expect(page.getByTestId('connection-status')).toHaveText('Connected');
  await expect(page.getByTestId('tab-canvas')).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('canvas-image-layer')).toHaveAttribute('data-drawn', '2');
  await expect(page.getByTestId('canvas-mask-layer')).toHaveAttribute('data-strokes', '1');
  expect(sameRgba(await canvasPixels(page, 'canvas-image-layer', bx - 64, by - 64, 320, 256), keptImages)).toBe(true);
  expect(sameRgba(await canvasPixels(page, 'canvas-mask-layer', bx, by, 256, 128), keptMask)).toBe(true);
  await screenshot(page, 'canvas-dark');
  await toggleTheme(page, 'light');
  await screenshot(page, 'canvas-light');
  await toggleTheme(page, 'dark');

  // Clear canvas asks first.
  await page.getByTestId('canvas-clear').click();
  await page.getByTestId('confirm-clear-canvas').click();
  await expect(page.getByTestId('canvas-image-layer')).toHaveAttribute('data-drawn', '0');
  await expect(page.getByTestId('canvas-mask-layer')).toHaveAttribute('data-strokes', '0');
});

test('Send to opens the current image in Inpainting, Outpainting and the Unified Canvas', async ({ app: page }) => {
  await page.getByTestId('prompt').fill('a lighthouse');
  await smallSettings(page, 64, 2);
  const [url] = await invokeAndWait(page, 1);
  await expect(page.getByTestId('current-image')).toHaveAttribute('data-url', url);

  await page.getByTestId('send-to').click();
  await page.getByTestId('send-to-inpainting').click();
  await expect(page.getByTestId('tab-inpainting')).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('inpainting-image-layer')).toHaveAttribute('data-drawn', '1');
  await expect(page.getByTestId('inpainting-size')).toHaveText('64×64');

  for (const [tab, check] of [
    ['outpainting', async () => expect(page.getByTestId('outpaint-source')).toHaveAttribute('data-url', url)],
    [
      'canvas',
      async () => {
        await expect(page.getByTestId('canvas-image-layer')).toHaveAttribute('data-drawn', '1');
        const [bx, by] = ((await page.getByTestId('bounding-box').getAttribute('data-box')) ?? '').split(',').map(Number);
        expect(alphaCount(await canvasPixels(page, 'canvas-image-layer', bx, by, 64, 64))).toBe(64 * 64);
      },
    ],
  ] as const) {
    await page.getByTestId('tab-txt2img').click();
    await page.getByTestId('send-to').click();
    await page.getByTestId(`send-to-${tab}`).click();
    await expect(page.getByTestId(`tab-${tab}`)).toHaveAttribute('aria-selected', 'true');
    await check();
  }

  // The image is deleted from the gallery while it sits on the canvas: after a reload the canvas
  // still opens, drawn without it, and says why.
  await page.getByTestId('tab-txt2img').click();
  await page.getByTestId('delete-image').click();
  await page.getByTestId('confirm-delete').click();
  await expect(page.locator(`[data-testid="gallery-thumb"][data-url="${url}"]`)).toHaveCount(0);
  await page.getByTestId('tab-canvas').click();
  await page.reload();
  await expect(page.getByTestId('connection-status')).toHaveText('Connected');
  await expect(page.getByTestId('toast-info').filter({ hasText: 'no longer on the server' })).toBeVisible();
  await expect(page.getByTestId('canvas-image-layer')).toHaveAttribute('data-drawn', '1');
  const [bx, by] = ((await page.getByTestId('bounding-box').getAttribute('data-box')) ?? '').split(',').map(Number);
  expect(alphaCount(await canvasPixels(page, 'canvas-image-layer', bx, by, 64, 64))).toBe(0);
});

test('inpainting a picture whose sides are not multiples of 8 keeps its size and its far pixels', async ({ app: page, sent }) => {
  // A 100×75 PNG made in the page (a photograph's odd size), chosen like any file.
  const bytes = await page.evaluate(async () => {
    const c = new OffscreenCanvas(100, 75);
    const ctx = c.getContext('2d');
    if (!ctx) throw new Error('no context');
    for (let y = 0; y < 75; y += 5) {
      for (let x = 0; x < 100; x += 5) {
        ctx.fillStyle = `rgb(${(x * 5) % 256}, ${(y * 7) % 256}, ${((x + y) * 3) % 256})`;
        ctx.fillRect(x, y, 5, 5);
      }
    }
    return Array.from(new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer()));
  });
  await page.getByTestId('tab-inpainting').click();
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId('inpainting-dropzone').click();
  await (await chooser).setFiles({ name: 'odd.png', mimeType: 'image/png', buffer: Buffer.from(bytes) });
  await expect(page.getByTestId('inpainting-size')).toHaveText('100×75');
  await page.getByTestId('prompt').fill('a patch of moss');
  await setNumber(page, 'steps', 3);
  // Top left: the result card of earlier runs sits over the stage's bottom right. The whole picture is
  // the work region, so its ragged right and bottom edges are padded whatever the stroke.
  const from: [number, number] = [10, 12];
  const to: [number, number] = [40, 12];
  await paintStroke(page, 'inpainting-stage', from, to);
  await expect(page.getByTestId('inpainting-mask-layer')).toHaveAttribute('data-strokes', '1');
  const before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await waitForResults(page, before + 1);
  await expect(page.getByTestId('cancel')).toBeDisabled({ timeout: 60_000 });
  const params = sent.filter((s) => s.event === 'generateImage').at(-1)?.args[0] as Record<string, unknown>;
  expect(params).toMatchObject({ width: 100, height: 75, bounding_box: { x: 0, y: 0, width: 100, height: 75 } });
  const resultUrl = (await page.getByTestId('inpainting-result').locator('img').getAttribute('data-url')) ?? '';
  const source = await servedPixels(page, params.init_img as string);
  const result = await servedPixels(page, resultUrl);
  expect([result.w, result.h]).toEqual([100, 75]);
  let changedFar = 0;
  let changedNear = 0;
  for (let y = 0; y < 75; y++) {
    for (let x = 0; x < 100; x++) {
      const i = (y * 100 + x) * 4;
      const differs = source.d[i] !== result.d[i] || source.d[i + 1] !== result.d[i + 1] || source.d[i + 2] !== result.d[i + 2];
      const d = distanceToSegment(x + 0.5, y + 0.5, from, to);
      if (d > 12 + 8 + 1.5 && differs) changedFar++;
      if (d < 6 && differs) changedNear++;
    }
  }
  expect(changedFar).toBe(0);
  expect(changedNear).toBeGreaterThan(50);
});
