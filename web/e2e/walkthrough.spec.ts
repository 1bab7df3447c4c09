/** The user guide's walkthrough, in real Chromium against the real server and the demo model. */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';
import {
  chooseInitImage,
  expect,
  imageMetadata,
  invokeAndWait,
  newestResults,
  pixelDigest,
  resultCount,
  screenshot,
  setNumber,
  setSwitch,
  smallSettings,
  test,
  waitForResults,
} from './support/fixtures';
import { FIXTURES } from './support/env';

const PARROT = path.join(FIXTURES, 'lincoln-parrot-128.png');
const PARROT_TRANSPARENT = path.join(FIXTURES, 'lincoln-parrot-transparent-128.png');
const NOT_AN_IMAGE = path.join(FIXTURES, 'not-an-image.png');

const thumbOf = (page: Page, url: string) => page.getByTestId('gallery-grid-result').locator(`[data-url="${url}"]`);

test('text to image: a prompt becomes a thumbnail and the current image', async ({ app: page, sent }) => {
  await expect(page.getByTestId('demo-notice')).toBeVisible();
  await page.getByTestId('prompt').fill('strawberry sushi');
  await smallSettings(page);
  const before = await resultCount(page);
  // Enter in the prompt invokes; Shift+Enter would add a line instead.
  await page.getByTestId('prompt').press('Enter');
  await expect(page.getByTestId('gallery-count-result')).toHaveText(String(before + 1), { timeout: 60_000 });
  const [url] = await newestResults(page, 1);
  await expect(page.getByTestId('current-image')).toHaveAttribute('data-url', url);
  await expect(page.getByTestId('status-text')).toHaveText(/Complete/i);
  // The current image and its thumbnail are real images the server serves.
  expect(await page.getByTestId('current-image').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(64);
  // (the thumbnail's own request may still be on its way when the result arrives: wait for it to load)
  await expect.poll(() => thumbOf(page, url).locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
  const gen = sent.find((s) => s.event === 'generateImage');
  expect(gen?.args[0]).toMatchObject({ prompt: 'strawberry sushi', width: 64, height: 64, steps: 3, iterations: 1 });
  await expect(page.getByTestId('prompt')).toHaveValue('strawberry sushi');
});

test('four images, then Use All and Invoke regenerates one byte for byte', async ({ app: page }) => {
  await page.getByTestId('prompt').fill('strawberry sushi');
  await smallSettings(page);
  await setNumber(page, 'iterations', 4);
  const four = await invokeAndWait(page, 4);
  expect(new Set(four).size).toBe(4);
  const digests = await Promise.all(four.map((u) => pixelDigest(page, u)));
  expect(new Set(digests).size).toBe(4);

  const target = four[2];
  await thumbOf(page, target).locator('.thumb__select').click();
  await expect(page.getByTestId('current-image')).toHaveAttribute('data-url', target);
  await page.getByTestId('use-all').click();
  await expect(page.getByTestId('randomize-seed')).not.toBeChecked();
  const seed = Number(await page.getByTestId('seed').inputValue());
  const meta = (await imageMetadata(page, target)) as { image?: { seed?: number } };
  expect(seed).toBe(meta.image?.seed);
  await setNumber(page, 'iterations', 1);
  const [again] = await invokeAndWait(page, 1);
  expect(again).not.toBe(target);
  expect(await pixelDigest(page, again)).toBe(digests[2]);
});

test('variations: amount 0.2 gives four different images whose metadata regenerate them', async ({ app: page }) => {
  await page.getByTestId('prompt').fill('strawberry sushi');
  await smallSettings(page);
  await setSwitch(page, 'randomize-seed', false);
  await setNumber(page, 'seed', 1234);
  await setSwitch(page, 'section-variations-switch', true);
  await setNumber(page, 'variation-amount', 0.2);
  await setNumber(page, 'iterations', 4);
  const four = await invokeAndWait(page, 4);
  const digests = await Promise.all(four.map((u) => pixelDigest(page, u)));
  expect(new Set(digests).size).toBe(4);

  const target = four[1];
  const meta = (await imageMetadata(page, target)) as { image?: { seed?: number; variations?: Array<{ seed: number; weight: number }> } };
  expect(meta.image?.variations?.length).toBeGreaterThan(0);
  await thumbOf(page, target).hover();
  await thumbOf(page, target).getByTestId('thumb-use-all').click();
  await expect(page.getByTestId('seed-weights')).toHaveValue(/^\d+:0\.2/);
  await expect(page.getByTestId('variation-amount')).toHaveValue('0');
  await setNumber(page, 'iterations', 1);
  const [again] = await invokeAndWait(page, 1);
  expect(await pixelDigest(page, again)).toBe(digests[1]);
});

test('image to image: a chosen file and a dropped file become the initial image', async ({ app: page, sent }) => {
  await page.getByTestId('tab-img2img').click();
  await expect(page.getByTestId('init-image-dropzone')).toBeVisible();
  await expect(page.getByTestId('img2img-strength')).toHaveValue('0.75');
  const chosen = await chooseInitImage(page, PARROT);
  await page.getByTestId('prompt').fill('old sea captain with raven on shoulder');
  await smallSettings(page);
  const [result] = await invokeAndWait(page, 1);
  const gen = sent.filter((s) => s.event === 'generateImage').at(-1);
  expect(gen?.args[0]).toMatchObject({ init_img: chosen, strength: 0.75, fit: true });
  const meta = (await imageMetadata(page, result)) as { image?: { type?: string } };
  expect(meta.image?.type).toMatch(/img2img|inpaint/);

  // Clear it with the "x", then drop a file on the panel as a real drag-and-drop would.
  await page.getByTestId('clear-init-image').click();
  await expect(page.getByTestId('init-image-dropzone')).toBeVisible();
  const bytes = fs.readFileSync(PARROT).toString('base64');
  await page.evaluate(async (b64) => {
    const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([data], 'dropped-parrot.png', { type: 'image/png' }));
    const target = document.querySelector('[data-testid="init-image-dropzone"]');
    if (!target) throw new Error('no dropzone');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
    }
  }, bytes);
  await expect(page.getByTestId('init-image')).toHaveAttribute('data-url', /init-images\/.*dropped-parrot/);
  await invokeAndWait(page, 1);

  // The desktop window uploads natively dropped files itself and announces them with this event.
  await page.getByTestId('clear-init-image').click();
  await page.evaluate((url) => {
    window.dispatchEvent(new CustomEvent('initialImageDropped', { detail: { url, width: 128, height: 128 } }));
  }, chosen);
  await expect(page.getByTestId('init-image')).toHaveAttribute('data-url', chosen);
  await page.getByTestId('gallery-category-user').click();
  await expect(page.getByTestId('gallery-count-user')).not.toHaveText('0');
  await screenshot(page, 'img2img-dark-1280x800');
});

test('inpainting: a transparent PNG keeps its opaque pixels', async ({ app: page }) => {
  await page.getByTestId('tab-img2img').click();
  const init = await chooseInitImage(page, PARROT_TRANSPARENT);
  await page.getByTestId('prompt').fill('old sea captain with raven on shoulder');
  await smallSettings(page, 128, 4);
  const [result] = await invokeAndWait(page, 1);
  const report = await page.evaluate(
    async ({ initUrl, resultUrl }) => {
      const pixels = async (u: string) => {
        const blob = await (await fetch(u)).blob();
        const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
        const c = new OffscreenCanvas(bmp.width, bmp.height);
        const ctx = c.getContext('2d');
        if (!ctx) throw new Error('no context');
        ctx.drawImage(bmp, 0, 0);
        return { w: bmp.width, h: bmp.height, d: ctx.getImageData(0, 0, bmp.width, bmp.height).data };
      };
      const a = await pixels(initUrl);
      const b = await pixels(resultUrl);
      if (a.w !== b.w || a.h !== b.h) return { sizeMismatch: `${a.w}x${a.h} vs ${b.w}x${b.h}` };
      const margin = 9;
      let kept = 0;
      let changedOutside = 0;
      let changedInside = 0;
      let masked = 0;
      for (let y = 0; y < a.h; y++) {
        for (let x = 0; x < a.w; x++) {
          const i = (y * a.w + x) * 4;
          const diff = Math.abs(a.d[i] - b.d[i]) + Math.abs(a.d[i + 1] - b.d[i + 1]) + Math.abs(a.d[i + 2] - b.d[i + 2]);
          if (a.d[i + 3] < 255) {
            masked++;
            if (diff > 0) changedInside++;
            continue;
          }
          // Only pixels more than 8 px from any transparent one must be untouched.
          let near = false;
          for (let dy = -margin; dy <= margin && !near; dy++) {
            for (let dx = -margin; dx <= margin; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if (yy < 0 || xx < 0 || yy >= a.h || xx >= a.w) continue;
              if (a.d[(yy * a.w + xx) * 4 + 3] < 255) {
                near = true;
                break;
              }
            }
          }
          if (near) continue;
          kept++;
          if (diff > 0) changedOutside++;
        }
      }
      return { kept, changedOutside, changedInside, masked };
    },
    { initUrl: init, resultUrl: result },
  );
  expect(report).toMatchObject({ changedOutside: 0 });
  expect(report.kept).toBeGreaterThan(5000);
  expect(report.changedInside).toBeGreaterThan(0);
});

test('HD and Restore Faces make postprocessed images', async ({ app: page, sent }) => {
  await page.getByTestId('prompt').fill('portrait of a lawyer, 3/4 shot');
  await smallSettings(page);
  const [original] = await invokeAndWait(page, 1);

  await page.getByTestId('upscale').click();
  await page.getByTestId('popover-upscale-level').selectOption('2');
  let before = await resultCount(page);
  await page.getByTestId('run-upscale').click();
  await waitForResults(page, before + 1);
  const [upscaled] = await newestResults(page, 1);
  expect(upscaled).not.toBe(original);
  await expect(page.getByTestId('current-image')).toHaveAttribute('data-url', upscaled);
  await expect.poll(() => page.getByTestId('current-image').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(128);
  expect(sent.find((s) => s.event === 'runPostprocessing')?.args[1]).toMatchObject({ type: 'esrgan', upscale: [2, 0.75] });

  await page.getByTestId('restore-faces').click();
  await expect(page.getByTestId('popover-facetool-strength')).toHaveValue('0.8');
  before = await resultCount(page);
  await page.getByTestId('run-restore-faces').click();
  await waitForResults(page, before + 1);
  const [restored] = await newestResults(page, 1);
  const meta = (await imageMetadata(page, restored)) as { image?: { postprocessing?: Array<{ type: string }> } };
  const kinds = (meta.image?.postprocessing ?? []).map((p) => p.type);
  expect(kinds).toEqual(expect.arrayContaining(['esrgan', 'gfpgan']));
});

test('the queue lists two jobs and one is cancelled from it', async ({ app: page, sent }) => {
  await page.getByTestId('prompt').fill('a long job');
  await smallSettings(page, 128, 25);
  const before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await expect(page.getByTestId('cancel')).toBeEnabled();
  await page.getByTestId('invoke').click();
  const jobs = page.getByTestId('queue-job');
  await expect(jobs).toHaveCount(2);
  await expect(page.getByTestId('progress-details')).toContainText(/Step \d+\/25/);
  await expect(page.getByTestId('progress-details')).toContainText('it/s');
  const queued = page.locator('[data-testid="queue-job"][data-status="queued"]');
  await expect(queued).toHaveCount(1);
  await queued.getByTestId('cancel-job').click();
  expect(sent.filter((s) => s.event === 'cancel').at(-1)?.args).toHaveLength(1);
  await expect(page.locator('[data-testid="queue-job"][data-status="queued"]')).toHaveCount(0);
  await expect(page.getByTestId('queue-panel')).toBeHidden({ timeout: 90_000 });
  await expect(page.getByTestId('cancel')).toBeDisabled();
  expect(await resultCount(page)).toBe(before + 1);
});

test('Cancel stops the running job', async ({ app: page }) => {
  await page.getByTestId('prompt').fill('a job to cancel');
  await smallSettings(page, 128, 60);
  const before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await expect(page.getByTestId('progress-details')).toContainText(/Step \d+\/60/);
  await page.getByTestId('cancel').click();
  await expect(page.getByTestId('status-text')).toHaveText(/cancel/i);
  await expect(page.getByTestId('cancel')).toBeDisabled();
  expect(await resultCount(page)).toBe(before);
});

test('the model picker switches models', async ({ app: page }) => {
  const picker = page.getByTestId('model-picker');
  await expect(picker).toHaveValue('demo');
  await picker.selectOption('demo-alt');
  await expect(page.getByTestId('toast-success').filter({ hasText: 'demo-alt' })).toBeVisible({ timeout: 90_000 });
  await expect(picker).toHaveValue('demo-alt');
  await expect(page.getByTestId('demo-notice')).toBeVisible();
  await page.getByTestId('prompt').fill('strawberry sushi');
  await smallSettings(page);
  const [url] = await invokeAndWait(page, 1);
  const meta = (await imageMetadata(page, url)) as { model_id?: string };
  expect(JSON.stringify(meta)).toContain('demo-alt');
  await picker.selectOption('demo');
  await expect(page.getByTestId('toast-success').filter({ hasText: 'Model changed to demo.' })).toBeVisible({ timeout: 90_000 });
});

test('delete removes a gallery item, with and without confirmation', async ({ app: page }) => {
  await page.getByTestId('prompt').fill('doomed');
  await smallSettings(page);
  await setNumber(page, 'iterations', 2);
  const [first, second] = await invokeAndWait(page, 2);
  const count = await resultCount(page);
  await thumbOf(page, first).hover();
  await thumbOf(page, first).getByTestId('thumb-delete').click();
  await expect(page.getByTestId('delete-confirmation')).toBeVisible();
  await page.getByTestId('confirm-delete').click();
  await expect(thumbOf(page, first)).toHaveCount(0);
  await expect(page.getByTestId('gallery-count-result')).toHaveText(String(count - 1));
  expect((await page.request.get(new URL(first, page.url()).toString())).status()).toBe(404);

  await page.getByTestId('open-settings').click();
  await setSwitch(page, 'setting-confirm-delete', false);
  await page.keyboard.press('Escape');
  await thumbOf(page, second).locator('.thumb__select').click();
  await page.keyboard.press('Delete');
  await expect(thumbOf(page, second)).toHaveCount(0);
  await expect(page.getByTestId('delete-confirmation')).toHaveCount(0);
});

test('server errors appear as dismissable toasts', async ({ app: page }) => {
  await page.getByTestId('tab-img2img').click();
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId('init-image-dropzone').click();
  await (await chooser).setFiles(NOT_AN_IMAGE);
  const toast = page.getByTestId('toast-error');
  await expect(toast).toBeVisible();
  await expect(toast).toContainText(/image/i);
  await toast.getByRole('button', { name: 'Dismiss' }).click();
  await expect(toast).toHaveCount(0);
});

test('the gallery pages older images on scroll, closes and reopens', async ({ app: page, server }) => {
  // 120 older images written behind the server's back, in pairs sharing an mtime (paging ties).
  const source = fs.readFileSync(PARROT);
  const base = Date.UTC(2020, 0, 1) / 1000;
  for (let i = 0; i < 120; i++) {
    const file = path.join(server.outdir, `old-${String(i).padStart(3, '0')}.png`);
    fs.writeFileSync(file, source);
    const t = base + Math.floor(i / 2);
    fs.utimesSync(file, t, t);
  }
  const onDisk = fs.readdirSync(server.outdir).filter((n) => n.endsWith('.png')).length;
  // The server's index follows the folder on its own; reload until the first page shows the new files.
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('connection-status')).toHaveText('Connected');
    await expect(page.getByTestId('load-more')).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  const grid = page.getByTestId('gallery-grid-result');
  for (let i = 0; i < 20 && !(await page.getByTestId('all-images-loaded').isVisible()); i++) {
    await grid.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.waitForTimeout(300);
  }
  await expect(page.getByTestId('all-images-loaded')).toBeVisible();
  await expect(page.getByTestId('gallery-count-result')).toHaveText(String(onDisk));
  // Virtualised: only the rows in view are in the DOM.
  expect(await grid.getByTestId('gallery-thumb').count()).toBeLessThan(60);

  await page.getByTestId('close-gallery').click();
  await expect(page.getByTestId('gallery')).toHaveCount(0);
  await page.getByTestId('open-gallery').click();
  await expect(page.getByTestId('gallery')).toBeVisible();
  for (let i = 0; i < 120; i++) fs.rmSync(path.join(server.outdir, `old-${String(i).padStart(3, '0')}.png`));
});

test('theme, parameters and layout survive a reload; shortcuts are listed', async ({ app: page }) => {
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.getByTestId('theme-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await setNumber(page, 'steps', 7);
  await page.getByTestId('prompt').fill('remember me');
  await page.reload();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(bg);
  await expect(page.getByTestId('steps')).toHaveValue('7');
  await expect(page.getByTestId('prompt')).toHaveValue('remember me');

  await page.locator('body').press('?');
  await expect(page.getByTestId('hotkeys-modal')).toContainText('Use All');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('hotkeys-modal')).toHaveCount(0);
  await page.getByTestId('theme-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
});

test('a stopped server shows disconnected, and a restarted one recovers', async ({ app: page, server }) => {
  await server.stop();
  const status = page.getByTestId('connection-status');
  await expect(status).toHaveText('Disconnected', { timeout: 20_000 });
  await expect(status).toHaveClass(/connection-status--down/);
  await expect(page.getByTestId('invoke')).toBeDisabled();
  await server.start();
  await expect(status).toHaveText('Connected', { timeout: 30_000 });
  await page.getByTestId('prompt').fill('back again');
  await smallSettings(page);
  await invokeAndWait(page, 1);
  // A fresh page after the restart sees the whole gallery, not only what was made since.
  const onDisk = fs.readdirSync(server.outdir).filter((n) => n.endsWith('.png')).length;
  await page.reload();
  await expect(page.getByTestId('connection-status')).toHaveText('Connected');
  await expect(page.getByTestId('gallery-count-result')).toHaveText(String(Math.min(onDisk, 50)));
});

const SIZES = [
  { name: '1280x800', width: 1280, height: 800 },
  { name: '1920x1080', width: 1920, height: 1080 },
  { name: 'phone-390x844', width: 390, height: 844 },
];

test('screenshots of each main screen, dark and light, desktop and phone', async ({ app: page }) => {
  await page.getByTestId('prompt').fill('strawberry sushi');
  await smallSettings(page, 128, 3);
  await setNumber(page, 'iterations', 3);
  await invokeAndWait(page, 3);
  for (const theme of ['dark', 'light'] as const) {
    if ((await page.locator('html').getAttribute('data-theme')) !== theme) await page.getByTestId('theme-toggle').click();
    for (const size of SIZES) {
      await page.setViewportSize({ width: size.width, height: size.height });
      await page.getByTestId('tab-txt2img').click();
      await expect(page.getByTestId('current-image')).toBeVisible();
      await assertNoHorizontalOverflow(page);
      await screenshot(page, `txt2img-${theme}-${size.name}`);
      await page.getByTestId('show-metadata').click();
      await expect(page.getByTestId('metadata-viewer')).toBeVisible();
      await screenshot(page, `metadata-${theme}-${size.name}`);
      await page.getByTestId('show-metadata').click();
      await page.getByTestId('tab-img2img').click();
      await screenshot(page, `img2img-${theme}-${size.name}`);
      if (size.width < 900) {
        await page.getByTestId('open-gallery').click();
        await expect(page.getByTestId('gallery')).toBeVisible();
        await screenshot(page, `gallery-drawer-${theme}-${size.name}`);
        await page.getByTestId('close-gallery').click();
      } else {
        await expectSideBySide(page);
      }
    }
  }
  await page.getByTestId('theme-toggle').click();
});

/** Control panel left, current image centre, gallery right, none overlapping. */
async function expectSideBySide(page: Page): Promise<void> {
  const box = async (id: string) => {
    const b = await page.getByTestId(id).boundingBox();
    if (!b) throw new Error(`${id} has no box`);
    return b;
  };
  const options = await box('options-panel');
  const current = await box('current-image-panel');
  const gallery = await box('gallery');
  expect(options.x + options.width).toBeLessThanOrEqual(current.x);
  expect(current.x + current.width).toBeLessThanOrEqual(gallery.x);
  const viewport = page.viewportSize();
  expect(gallery.x + gallery.width).toBeLessThanOrEqual(viewport?.width ?? 0);
}

async function assertNoHorizontalOverflow(page: Page): Promise<void> {
  const offenders = await page.evaluate(() => {
    if (document.documentElement.scrollWidth <= window.innerWidth) return [];
    return Array.from(document.querySelectorAll('body *'))
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className} right=${Math.round(el.getBoundingClientRect().right)}`)
      .slice(0, 8);
  });
  expect(offenders, 'elements sticking out to the right').toEqual([]);
}
