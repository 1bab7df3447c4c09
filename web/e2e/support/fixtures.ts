/** Test fixtures: one real server per worker, a page on it, and a check of every payload the page sends. */
import { test as base, expect, type Page, type WebSocket } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { InvokeServer } from './server';
import { SCREENSHOTS } from './env';
import { validateGenerateImageArgs, validateRunPostprocessingArgs } from '../../test/protocolSchema';

interface SentEvent {
  event: string;
  args: unknown[];
}

/** Decodes a Socket.IO text frame (`42["event", ...]`, maybe with an ack id) into event + args. */
export function decodeFrame(payload: string | Buffer): SentEvent | null {
  if (typeof payload !== 'string') return null;
  const match = /^4[25]\d*-?\d*(\[.*)$/s.exec(payload);
  if (!match) return null;
  try {
    const parsed = JSON.parse(match[1]) as unknown[];
    if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') return null;
    return { event: parsed[0], args: parsed.slice(1) };
  } catch {
    return null;
  }
}

interface Fixtures {
  sent: SentEvent[];
  /** Every Socket.IO event the page received from the server. */
  received: SentEvent[];
  app: Page;
}

export const test = base.extend<Fixtures, { server: InvokeServer }>({
  server: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const server = new InvokeServer();
      server.buildRoot();
      await server.start();
      await use(server);
      await server.stop();
      server.cleanup();
    },
    { scope: 'worker', timeout: 240_000 },
  ],

  /** Every Socket.IO event the page sends; generateImage/runPostprocessing must match the protocol. */
  sent: async ({ page }, use) => {
    const sent: SentEvent[] = [];
    page.on('websocket', (ws: WebSocket) => {
      ws.on('framesent', (frame) => {
        const decoded = decodeFrame(frame.payload);
        if (decoded) sent.push(decoded);
      });
    });
    await use(sent);
    for (const { event, args } of sent) {
      if (event === 'generateImage') expect(validateGenerateImageArgs(args), `generateImage ${JSON.stringify(args)}`).toEqual([]);
      if (event === 'runPostprocessing') expect(validateRunPostprocessingArgs(args), 'runPostprocessing').toEqual([]);
    }
  },

  received: async ({ page }, use) => {
    const received: SentEvent[] = [];
    page.on('websocket', (ws: WebSocket) => {
      ws.on('framereceived', (frame) => {
        const decoded = decodeFrame(frame.payload);
        if (decoded) received.push(decoded);
      });
    });
    await use(received);
  },

  /** The app loaded from the real server and connected, with the payload check attached. */
  app: async ({ page, server, sent, received }, use) => {
    void sent;
    void received; // both listen from before the page connects
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await expect(page.getByTestId('connection-status')).toHaveText('Connected');
    await use(page);
    expect(errors, 'uncaught errors in the page').toEqual([]);
  },
});

export { expect };

/** Image to Image: a file chosen through the initial image's dropzone, as a user picks it; its served URL. */
export async function chooseInitImage(page: Page, file: string): Promise<string> {
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId('init-image-dropzone').click();
  await (await chooser).setFiles(file);
  const img = page.getByTestId('init-image');
  await expect(img).toBeVisible();
  await expect(img).toHaveAttribute('data-url', /init-images\//);
  return (await img.getAttribute('data-url')) ?? '';
}

export async function resultCount(page: Page): Promise<number> {
  // (Until the server's first page has arrived the count says 0 whatever the gallery holds.)
  const count = page.getByTestId('gallery-count-result');
  await expect(count).toHaveAttribute('data-loaded', 'true');
  return Number(await count.textContent());
}

/** Sets a number field the way a user types into it. */
export async function setNumber(page: Page, testId: string, value: number): Promise<void> {
  const input = page.getByTestId(testId);
  await input.fill(String(value));
  await input.blur();
  await expect(input).toHaveValue(String(value));
}

/** Small, quick settings for every generation in the suite. */
export async function smallSettings(page: Page, size = 64, steps = 3): Promise<void> {
  await setNumber(page, 'width', size);
  await setNumber(page, 'height', size);
  await setNumber(page, 'steps', steps);
}

export async function setSwitch(page: Page, testId: string, on: boolean): Promise<void> {
  const input = page.getByTestId(testId);
  await input.setChecked(on);
  await expect(input).toBeChecked({ checked: on });
}

/** Waits until the gallery holds `expected` results; an error toast fails at once with its message. */
export async function waitForResults(page: Page, expected: number, timeout = 90_000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const errors = page.getByTestId('toast-error');
    if ((await errors.count()) > 0) throw new Error(`The server reported: ${await errors.first().textContent()}`);
    const count = await resultCount(page);
    if (count === expected) return;
    if (Date.now() > deadline) throw new Error(`Expected ${expected} results, the gallery shows ${count}.`);
    await page.waitForTimeout(100);
  }
}

/** Presses Invoke and waits for `count` new results and the end of processing; returns their urls. */
export async function invokeAndWait(page: Page, count: number): Promise<string[]> {
  const before = await resultCount(page);
  await page.getByTestId('invoke').click();
  await waitForResults(page, before + count);
  await expect(page.getByTestId('cancel')).toBeDisabled({ timeout: 60_000 });
  return newestResults(page, count);
}

export async function newestResults(page: Page, count: number): Promise<string[]> {
  const thumbs = page.getByTestId('gallery-grid-result').getByTestId('gallery-thumb');
  const urls: string[] = [];
  for (let i = 0; i < count; i++) urls.push((await thumbs.nth(i).getAttribute('data-url')) ?? '');
  return urls;
}

/** An image's decoded RGBA pixels. */
export interface Pixels {
  w: number;
  h: number;
  d: number[];
}

/** Decoded RGBA pixels of a served image (or a data URL), exactly as stored. */
export async function servedPixels(page: Page, url: string): Promise<Pixels> {
  return page.evaluate(async (u) => {
    const bmp = await createImageBitmap(await (await fetch(u)).blob(), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext('2d');
    if (!ctx) throw new Error('no context');
    ctx.drawImage(bmp, 0, 0);
    return { w: bmp.width, h: bmp.height, d: Array.from(ctx.getImageData(0, 0, bmp.width, bmp.height).data) };
  }, url);
}

/** SHA-256 of an image's decoded RGBA pixels, computed in the page from the served PNG. */
export async function pixelDigest(page: Page, url: string): Promise<string> {
  return page.evaluate(async (u) => {
    const blob = await (await fetch(u)).blob();
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2d context');
    ctx.drawImage(bitmap, 0, 0);
    const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const digest = await crypto.subtle.digest('SHA-256', data);
    return `${bitmap.width}x${bitmap.height}:${Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')}`;
  }, url);
}

/** The metadata the gallery holds for an image (what Use All reads). */
export async function imageMetadata(page: Page, url: string): Promise<Record<string, unknown>> {
  await page.getByTestId('gallery-grid-result').locator(`[data-url="${url}"] .thumb__select`).click();
  await page.getByTestId('show-metadata').click();
  const json = await page.getByTestId('metadata-json').textContent();
  await page.getByTestId('show-metadata').click();
  return JSON.parse(json ?? '{}') as Record<string, unknown>;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.mouse.move(0, 0);
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}
