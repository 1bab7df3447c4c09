/** The Control section on the real server with a tiny ControlNet: a unit from a dropped picture, its map
 * preview, Invoke, Use All regenerating the same pixels; a control layer under the Unified Canvas's box. */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';
import {
  chooseInitImage,
  expect,
  imageMetadata,
  invokeAndWait,
  pixelDigest,
  setNumber,
  setSwitch,
  smallSettings,
  test,
  waitForResults,
  resultCount,
  servedPixels,
} from './support/fixtures';
import { FIXTURES } from './support/env';

const PARROT = path.join(FIXTURES, 'lincoln-parrot-128.png');
const PARROT_TRANSPARENT = path.join(FIXTURES, 'lincoln-parrot-transparent-128.png');
/** The ControlNet tests/support/make_root.py puts in the e2e root's models.yaml. */
const CONTROL_MODEL = 'tiny-control';

/** Drops a file on an element as a real drag-and-drop would. */
async function dropFile(page: Page, testId: string, file: string, name: string): Promise<void> {
  const bytes = fs.readFileSync(file).toString('base64');
  await page.evaluate(
    async ({ b64, id, fileName }) => {
      const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([data], fileName, { type: 'image/png' }));
      const target = document.querySelector(`[data-testid="${id}"]`);
      if (!target) throw new Error(`no ${id}`);
      for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
      }
    },
    { b64: bytes, id: testId, fileName: name },
  );
}

const thumbOf = (page: Page, url: string) => page.getByTestId('gallery-grid-result').locator(`[data-url="${url}"]`);

test('text to image: a unit from a dropped picture, its map previewed, Invoke, and Use All regenerates the same pixels', async ({ app: page, sent }) => {
  await page.getByTestId('prompt').fill('a lighthouse at dusk');
  await smallSettings(page, 64, 3);

  await page.getByTestId('control-add').click();
  await expect(page.getByTestId('control-unit')).toHaveCount(1);
  await expect(page.getByTestId('section-control-switch')).toBeChecked();
  await expect(page.getByTestId('control-model-0')).toHaveValue(CONTROL_MODEL);
  await expect(page.getByTestId('control-model-0').locator('option', { hasText: `${CONTROL_MODEL} (SD 1.x)` })).toHaveCount(1);
  // Invoke waits for a picture, and says so.
  await expect(page.getByTestId('invoke')).toBeDisabled();
  await expect(page.getByTestId('control-problem-0')).toContainText('choose a control picture');

  // The drop goes to the unit (kept out of the gallery), not to Image to Image.
  await dropFile(page, 'control-drop-0', PARROT, 'dropped-control.png');
  await expect(page.getByTestId('control-picture-0')).toHaveAttribute('src', /outputs\/control-images\/.*dropped-control/);
  await expect(page.getByTestId('tab-txt2img')).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('invoke')).toBeEnabled();

  // A preprocessor whose network's weights the root lacks says which file and where, and Invoke waits.
  await page.getByTestId('control-preprocessor-0').selectOption('softedge_hed');
  await expect(page.getByTestId('control-preprocessor-problem-0')).toContainText('ControlNetHED.pth');
  await expect(page.getByTestId('control-preprocessor-problem-0')).toContainText('models/annotators');
  await expect(page.getByTestId('invoke')).toBeDisabled();

  // Canny and its thresholds (the server's table and defaults).
  await page.getByTestId('control-preprocessor-0').selectOption('canny');
  await expect(page.getByTestId('control-setting-low_threshold-0')).toHaveValue('100');
  await expect(page.getByTestId('control-setting-high_threshold-0')).toHaveValue('200');

  // The map preview: a black picture with white edges, at the size being generated.
  await page.getByTestId('control-preview-0').click();
  const map = page.getByTestId('control-map-0');
  await expect(map).toHaveAttribute('src', /outputs\/control-images\/.*\.png$/);
  await expect(map).toHaveAttribute('data-stale', 'false');
  const mapPixels = await servedPixels(page, (await map.getAttribute('src')) ?? '');
  expect([mapPixels.w, mapPixels.h]).toEqual([64, 64]);
  const red = mapPixels.d.filter((_, i) => i % 4 === 0);
  const bright = red.filter((v) => v > 127).length;
  expect(bright, 'white edge pixels in the canny map').toBeGreaterThan(40);
  expect(red.filter((v) => v < 32).length, 'black background in the canny map').toBeGreaterThan(64 * 64 * 0.5);
  // A changed threshold makes the shown map stale until previewed again.
  await setNumber(page, 'control-setting-low_threshold-0', 50);
  await expect(map).toHaveAttribute('data-stale', 'true');
  await page.getByTestId('control-preview-0').click();
  await expect(map).toHaveAttribute('data-stale', 'false');

  // Send to gallery: the map lands in the Uploads.
  await page.getByTestId('control-map-to-gallery-0').click();
  await expect(page.getByTestId('toast-success').filter({ hasText: 'map was saved to the gallery' })).toBeVisible();

  const [controlled] = await invokeAndWait(page, 1);
  const gen = sent.filter((s) => s.event === 'generateImage').at(-1);
  expect((gen?.args[0] as { control?: unknown }).control).toEqual([
    {
      model: CONTROL_MODEL,
      image: expect.stringMatching(/control-images\/.*dropped-control/),
      preprocessor: 'canny',
      settings: { low_threshold: 50, high_threshold: 200 },
      weight: 1,
      start: 0,
      end: 1,
      control_mode: 'balanced',
      resize_mode: 'crop',
    },
  ]);
  const meta = (await imageMetadata(page, controlled)) as { image?: { control?: Array<Record<string, unknown>> } };
  expect(meta.image?.control?.[0]).toMatchObject({ model: CONTROL_MODEL, preprocessor: 'canny', map_path: expect.stringMatching(/control-images/) });
  const digest = await pixelDigest(page, controlled);

  // The metadata viewer shows the unit with the map it steered with, saved beside the result.
  await thumbOf(page, controlled).locator('.thumb__select').click();
  await page.getByTestId('show-metadata').click();
  const resultName = controlled.split('/').at(-1)?.replace(/\.png$/, '') ?? '';
  await expect(page.getByTestId('metadata-control-map')).toHaveAttribute('src', `outputs/control-images/${resultName}.control-0.png`);
  await page.getByTestId('close-metadata').click();

  // Without the unit, the same seed gives other pixels: the unit steered the picture.
  await page.getByTestId('section-control-switch').setChecked(false);
  await setSwitch(page, 'randomize-seed', false);
  const [plain] = await invokeAndWait(page, 1);
  expect((sent.filter((s) => s.event === 'generateImage').at(-1)?.args[0] as { control?: unknown }).control).toBeUndefined();
  expect(await pixelDigest(page, plain)).not.toBe(digest);

  // Change what Use All must bring back, then Use All on the controlled result and Invoke again.
  await page.getByTestId('section-control-switch').setChecked(true);
  await setNumber(page, 'control-weight-0', 0.4);
  await page.getByTestId('control-preprocessor-0').selectOption('none');
  await page.getByTestId('section-control-switch').setChecked(false);
  await thumbOf(page, controlled).hover();
  await thumbOf(page, controlled).getByTestId('thumb-use-all').click();
  await expect(page.getByTestId('toast-success').filter({ hasText: 'Loaded all parameters' }).last()).toBeVisible();
  await expect(page.getByTestId('section-control-switch')).toBeChecked();
  await expect(page.getByTestId('control-preprocessor-0')).toHaveValue('canny');
  await expect(page.getByTestId('control-weight-0')).toHaveValue('1');
  await expect(page.getByTestId('control-setting-low_threshold-0')).toHaveValue('50');
  const [again] = await invokeAndWait(page, 1);
  expect(await pixelDigest(page, again)).toBe(digest);

  // A gallery image's "Use as control image": every unit has a picture, so a second unit takes it.
  await thumbOf(page, plain).hover();
  await thumbOf(page, plain).getByTestId('thumb-use-control').click();
  await expect(page.getByTestId('control-unit')).toHaveCount(2);
  await expect(page.getByTestId('control-picture-1')).toHaveAttribute('src', plain);
});

test('the Models dialog lists the control models with their kind and family', async ({ app: page }) => {
  await page.getByTestId('open-models').click();
  const dialog = page.getByRole('dialog', { name: 'Models' });
  const row = dialog.locator(`[data-testid="control-model-row"][data-model="${CONTROL_MODEL}"]`);
  await expect(row.getByTestId('control-model-kind')).toHaveText('ControlNet');
  await expect(row.getByTestId('control-model-family')).toHaveText('SD 1.x');
  // Control models are not models to generate with: the picker does not offer them.
  await expect(page.getByTestId('model-picker').locator('option', { hasText: CONTROL_MODEL })).toHaveCount(0);
  await page.keyboard.press('Escape');
});

test('unified canvas: a control layer placed under the box gives the region Invoke its control picture', async ({ app: page, sent }) => {
  await page.getByTestId('tab-canvas').click();
  await page.getByTestId('prompt').fill('a harbour');
  await setNumber(page, 'width', 64);
  await setNumber(page, 'height', 64);
  await setNumber(page, 'steps', 3);
  await expect(page.getByTestId('bounding-box')).toHaveAttribute('data-box', /,64,64$/);
  const [bx, by] = ((await page.getByTestId('bounding-box').getAttribute('data-box')) ?? '').split(',').map(Number);

  await page.getByTestId('control-add').click();
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId('control-upload-0').click();
  await (await chooser).setFiles(PARROT);
  const picture = (await page.getByTestId('control-picture-0').getAttribute('src')) ?? '';
  expect(picture).toMatch(/outputs\/control-images\//);

  // Placed at the box: shown on the canvas, semi-transparent, and hidden / shown by its switch.
  await page.getByTestId('control-place-0').click();
  const layer = page.getByTestId('control-layer');
  await expect(layer).toHaveAttribute('data-url', picture);
  expect(await layer.evaluate((el) => [el.style.left, el.style.top, getComputedStyle(el).opacity])).toEqual([`${bx}px`, `${by}px`, '0.5']);
  await setSwitch(page, 'control-layer-visible', false);
  await expect(page.getByTestId('control-layers')).toBeHidden();
  await setSwitch(page, 'control-layer-visible', true);
  await expect(page.getByTestId('control-layers')).toBeVisible();

  const before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await waitForResults(page, before + 1);
  await expect(page.getByTestId('staging-image')).toBeVisible();
  const gen = sent.filter((s) => s.event === 'generateImage').at(-1)?.args[0] as { control?: Array<{ image: string; model: string }> };
  expect(gen.control).toHaveLength(1);
  expect(gen.control?.[0]).toMatchObject({ model: CONTROL_MODEL, image: expect.stringMatching(/control-images\/.*control-region-/) });
  const upload = sent.filter((s) => s.event === 'uploadImage' && s.args[2] === 'control').at(-1);
  expect(upload?.args[1]).toMatch(/^control-region-.*\.png$/);

  // The unit's picture was the part of the control layer under the box: the parrot's top-left 64 × 64.
  const whole = await servedPixels(page, picture);
  expect(await regionIsPictureAt(page, gen.control?.[0].image ?? '', whole, 0, 0), 'the region sent is the control picture under the box').toBe(true);

  // Drag the layer by its handle, up and left by (DX, DY) canvas pixels: the box now covers the picture
  // from (DX, DY) on, and that is what the next Invoke cuts and uploads.
  await page.getByTestId('staging-discard').click();
  const [DX, DY] = [40, 24];
  const stage = page.getByTestId('canvas-stage');
  const scale = Number(await stage.getAttribute('data-scale'));
  const grip = await page.getByTestId('control-layer-handle-0').boundingBox();
  if (!grip) throw new Error('no layer handle');
  const [gx, gy] = [grip.x + grip.width / 2, grip.y + grip.height / 2];
  await page.mouse.move(gx, gy);
  await page.mouse.down();
  await page.mouse.move(gx - (DX * scale) / 2, gy - (DY * scale) / 2, { steps: 4 });
  await page.mouse.move(gx - DX * scale, gy - DY * scale, { steps: 4 });
  await page.mouse.up();
  await expect(layer).toHaveAttribute('data-at', `${bx - DX},${by - DY}`);
  expect(await layer.evaluate((el) => [el.style.left, el.style.top])).toEqual([`${bx - DX}px`, `${by - DY}px`]);
  // The box did not move, nor was anything painted: the drag was the layer's.
  await expect(page.getByTestId('bounding-box')).toHaveAttribute('data-box', `${bx},${by},64,64`);
  await expect(page.getByTestId('canvas-mask-layer')).toHaveAttribute('data-strokes', '0');
  // The keyboard moves it too, by one pixel: there and back.
  await page.getByTestId('control-layer-handle-0').press('ArrowRight');
  await expect(layer).toHaveAttribute('data-at', `${bx - DX + 1},${by - DY}`);
  await page.getByTestId('control-layer-handle-0').press('ArrowLeft');
  await expect(layer).toHaveAttribute('data-at', `${bx - DX},${by - DY}`);

  const uploads = sent.filter((s) => s.event === 'uploadImage' && s.args[2] === 'control').length;
  const again = await resultCount(page);
  await page.getByTestId('invoke').click();
  await waitForResults(page, again + 1);
  await expect(page.getByTestId('staging-image')).toBeVisible();
  expect(sent.filter((s) => s.event === 'uploadImage' && s.args[2] === 'control')).toHaveLength(uploads + 1);
  const moved = sent.filter((s) => s.event === 'generateImage').at(-1)?.args[0] as { control?: Array<{ image: string }> };
  const shifted = moved.control?.[0].image ?? '';
  expect(shifted).not.toBe(gen.control?.[0].image);
  expect(await regionIsPictureAt(page, shifted, whole, DX, DY), 'the region sent is the dragged picture under the box').toBe(true);
  expect(await regionIsPictureAt(page, shifted, whole, 0, 0), 'not the undragged region').toBe(false);
});

/** Whether the 64 × 64 served `url` is the picture `whole`'s pixels from (ox, oy) on. */
async function regionIsPictureAt(page: Page, url: string, whole: Awaited<ReturnType<typeof servedPixels>>, ox: number, oy: number): Promise<boolean> {
  const region = await servedPixels(page, url);
  if (region.w !== 64 || region.h !== 64) return false;
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      const r = (y * 64 + x) * 4;
      const w = ((y + oy) * whole.w + x + ox) * 4;
      if (region.d[r] !== whole.d[w] || region.d[r + 1] !== whole.d[w + 1] || region.d[r + 2] !== whole.d[w + 2]) return false;
    }
  }
  return true;
}

test('image to image: a unit left without a picture inpaints with the initial image, its transparent part the part to fill', async ({ app: page, sent }) => {
  await page.getByTestId('tab-img2img').click();
  const init = await chooseInitImage(page, PARROT_TRANSPARENT);
  await page.getByTestId('prompt').fill('old sea captain');
  await smallSettings(page, 128, 3);
  await page.getByTestId('control-add').click();
  await page.getByTestId('control-preprocessor-0').selectOption('inpaint_only');
  // The card says what the unit will use, and nothing keeps Invoke back.
  await expect(page.getByTestId('control-init-note-0')).toHaveText('Without a picture, Invoke uses the initial image.');
  await expect(page.getByTestId('control-problem-0')).toHaveCount(0);
  // Its map preview is the initial image's: transparent exactly where the picture is.
  await page.getByTestId('control-preview-0').click();
  await expect(page.getByTestId('control-map-0')).toHaveAttribute('src', /outputs\/control-images\/map\./);
  const map = await servedPixels(page, (await page.getByTestId('control-map-0').getAttribute('src')) ?? '');
  const [result] = await invokeAndWait(page, 1);
  const gen = sent.filter((s) => s.event === 'generateImage').at(-1)?.args[0] as { control?: Array<{ image: string }> };
  expect(gen.control?.[0]).toMatchObject({ model: CONTROL_MODEL, image: '', preprocessor: 'inpaint_only' });
  // The picture the unit took is kept and recorded: the initial image, transparent exactly where it is.
  const meta = (await imageMetadata(page, result)) as { image?: { control?: Array<{ image_path?: string }> } };
  const kept = meta.image?.control?.[0].image_path ?? '';
  expect(kept).toMatch(/^outputs\/control-images\/api\.[0-9a-f]+\.png$/);
  const [picture, original] = [await servedPixels(page, kept), await servedPixels(page, init)];
  expect([picture.w, picture.h]).toEqual([original.w, original.h]);
  let mismatched = 0;
  let holes = 0;
  for (let i = 3; i < picture.d.length; i += 4) {
    holes += picture.d[i] === 0 ? 1 : 0;
    mismatched += (picture.d[i] === 0) !== (original.d[i] < 128) ? 1 : 0;
  }
  expect(holes).toBeGreaterThan(0);
  expect(mismatched).toBe(0);
  let mapHoles = 0;
  for (let i = 3; i < map.d.length; i += 4) mapHoles += map.d[i] === 0 ? 1 : 0;
  expect([map.w, map.h, mapHoles]).toEqual([picture.w, picture.h, holes]);
});
