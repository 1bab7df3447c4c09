/** The studio at every width, in real Chromium on the real server: each tab usable from a 1440 px desktop down to a 360 px phone. */
import path from 'node:path';
import type { Page } from '@playwright/test';
import { expect, screenshot, setNumber, setSwitch, test } from './support/fixtures';
import { FIXTURES } from './support/env';
import { controlBoxes, cutValues, farTooltips, movedControls, unreachableControls } from './support/layoutAudit';

const PARROT = path.join(FIXTURES, 'lincoln-parrot-128.png');

const SIZES: ReadonlyArray<[number, number]> = [
  [1440, 900],
  [1024, 768],
  [900, 700],
  [768, 1024],
  [390, 844],
  [360, 740],
];
const TABS = ['txt2img', 'img2img', 'inpainting', 'outpainting', 'canvas', 'postprocessing'] as const;
type Tab = (typeof TABS)[number];
/** The stage of each canvas tab, and the least height that leaves it usable on a phone. */
const STAGES: Partial<Record<Tab, string>> = { inpainting: 'inpainting-stage', outpainting: 'outpaint-stage', canvas: 'canvas-stage' };
const MIN_STAGE_HEIGHT = 250;

async function openTab(page: Page, tab: Tab): Promise<void> {
  await page.getByTestId(`tab-${tab}`).click();
  await expect(page.getByTestId(`tab-${tab}`)).toHaveAttribute('aria-selected', 'true');
  // Every section of the options panel open, so that all of its controls are there to check.
  const closed = page.locator('[data-testid="options-panel"] .section__toggle[aria-expanded="false"]');
  while ((await closed.count()) > 0) await closed.first().click();
}

async function chooseFile(page: Page, opener: string): Promise<void> {
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId(opener).click();
  await (await chooser).setFiles(PARROT);
}

/** One picture on each canvas tab, every advanced option shown, a 10-digit seed in the seed field, a
 * control unit. */
async function prepare(page: Page): Promise<void> {
  await openTab(page, 'txt2img');
  await page.getByTestId('prompt').fill('a lighthouse on a cliff');
  await setSwitch(page, 'advanced-options', true);
  await openTab(page, 'txt2img');
  await setSwitch(page, 'randomize-seed', false);
  await setNumber(page, 'seed', 4294967295);
  await setNumber(page, 'width', 64);
  await setNumber(page, 'height', 64);
  // The sampler with the longest name, so that the check of cut values measures the worst case.
  const longest = await page.getByTestId('sampler').evaluate((el) => {
    const options = Array.from((el as HTMLSelectElement).options);
    return options.reduce((a, b) => (b.text.length > a.text.length ? b : a)).value;
  });
  await page.getByTestId('sampler').selectOption(longest);
  // A control unit with its picture, canny's settings and a previewed map (it shows on four tabs).
  await page.getByTestId('control-add').click();
  await chooseFile(page, 'control-upload-0');
  await expect(page.getByTestId('control-picture-0')).toBeVisible();
  await page.getByTestId('control-preprocessor-0').selectOption('canny');
  await page.getByTestId('control-preview-0').click();
  await expect(page.getByTestId('control-map-0')).toBeVisible();
  await openTab(page, 'inpainting');
  await chooseFile(page, 'inpainting-dropzone');
  await expect(page.getByTestId('inpainting-image-layer')).toHaveAttribute('data-drawn', '1');
  await openTab(page, 'outpainting');
  await chooseFile(page, 'outpaint-dropzone');
  await expect(page.getByTestId('outpaint-stage')).toBeVisible();
  await openTab(page, 'canvas');
  await chooseFile(page, 'canvas-upload');
  await expect(page.getByTestId('canvas-image-layer')).toHaveAttribute('data-drawn', '1');
}

/** Presses Invoke on Text to Image and reports any control of the options panel that moved while the job ran. */
async function movesDuringGeneration(page: Page): Promise<string[]> {
  await openTab(page, 'txt2img');
  await setNumber(page, 'steps', 50);
  const invoke = page.getByTestId('invoke');
  await invoke.scrollIntoViewIfNeeded();
  const before = await controlBoxes(page, '[data-testid="options-panel"]');
  await invoke.click();
  await expect(page.getByTestId('cancel')).toBeEnabled();
  await expect(page.getByTestId('queue-job').first()).toBeVisible();
  const during = await controlBoxes(page, '[data-testid="options-panel"]');
  await page.getByTestId('cancel').click(); // what moves, moves at once; the job need not finish
  await expect(page.getByTestId('cancel')).toBeDisabled({ timeout: 60_000 });
  const after = await controlBoxes(page, '[data-testid="options-panel"]');
  await setNumber(page, 'steps', 3);
  return [...movedControls(before, during).map((m) => `while generating: ${m}`), ...movedControls(before, after).map((m) => `after generating: ${m}`)];
}

test('every tab is usable at every width from 1440 px down to a 360 px phone', async ({ app: page }) => {
  test.setTimeout(300_000);
  await prepare(page);
  const problems: string[] = [];
  for (const [width, height] of SIZES) {
    const size = `${width}x${height}`;
    await test.step(size, async () => {
      await page.setViewportSize({ width, height });
      // Every tab in sight at once, with nothing cut off at the window's edge.
      const cutTabs = await page.evaluate(() =>
        Array.from(document.querySelectorAll<HTMLElement>('[role="tablist"] [role="tab"]'))
          .filter((t) => {
            const r = t.getBoundingClientRect();
            return r.left < 0 || r.right > window.innerWidth || r.width < 32;
          })
          .map((t) => t.getAttribute('data-testid') ?? ''),
      );
      problems.push(...cutTabs.map((t) => `${size}: the tab ${t} is cut off at the edge of the window`));
      for (const tab of TABS) {
        await openTab(page, tab);
        const stage = STAGES[tab];
        if (stage) {
          const box = await page.getByTestId(stage).boundingBox();
          if (!box || box.height < MIN_STAGE_HEIGHT || box.width < MIN_STAGE_HEIGHT * 0.9) {
            problems.push(`${size} ${tab}: the stage is ${Math.round(box?.width ?? 0)}×${Math.round(box?.height ?? 0)} px`);
          }
          if (tab === 'canvas') {
            await page.getByTestId('zoom-fit').click();
            const zoom = Number.parseInt((await page.getByTestId('zoom-level').textContent()) ?? '0', 10);
            if (zoom < 20) problems.push(`${size} canvas: Fit shows the box at ${zoom} %`);
          }
        }
        const found = [...(await unreachableControls(page)), ...(await cutValues(page)), ...(await farTooltips(page))];
        problems.push(...found.map((p) => `${size} ${tab}: ${p}`));
        await screenshot(page, `widths-${size}-${tab}-dark`);
      }
      // The gallery's opener and its tooltip (the gallery is a drawer on narrow windows, a column on wide ones).
      await openTab(page, 'txt2img');
      const opener = page.getByTestId('open-gallery');
      const toggled = !(await opener.isVisible());
      if (toggled) await page.keyboard.press('g');
      await expect(opener).toBeVisible();
      // (The tab's other tooltips were checked above; this pass is for the opener's.)
      const openerTooltip = '.app [data-tooltip]:has(> [data-testid="open-gallery"])';
      problems.push(...(await farTooltips(page, 24, openerTooltip)).map((p) => `${size} gallery closed: ${p}`));
      if (toggled) await page.keyboard.press('g');
      await page.getByTestId('theme-toggle').click();
      await screenshot(page, `widths-${size}-txt2img-light`);
      await openTab(page, 'canvas');
      await screenshot(page, `widths-${size}-canvas-light`);
      problems.push(...(await cutValues(page)).map((p) => `${size} canvas, light: ${p}`));
      await page.getByTestId('theme-toggle').click();
      problems.push(...(await movesDuringGeneration(page)).map((p) => `${size} txt2img: ${p}`));
    });
    console.log(problems.filter((p) => p.startsWith(`${size} `)).join('\n'));
  }
  expect(problems).toEqual([]);
});

/** A value to type into a number box with these bounds: several digits, inside the range. */
function multiDigitValue(min: number, max: number): string {
  return ['901', '123', '42', '12', '0.75', '0.25'].find((v) => Number(v) >= min && Number(v) <= max) ?? String(max);
}

test('every number box of every tab keeps what is typed until Enter, then says why it changed it', async ({ app: page }) => {
  test.setTimeout(240_000);
  await prepare(page);
  const problems: string[] = [];
  let typedInto = 0;
  for (const tab of TABS) {
    await openTab(page, tab);
    const boxes = page.locator('.app input[type="number"]:enabled');
    const count = await boxes.count();
    for (let i = 0; i < count; i++) {
      const box = boxes.nth(i);
      if (!(await box.isVisible())) continue;
      const name = (await box.getAttribute('data-testid')) ?? (await box.getAttribute('aria-label')) ?? `number box ${i}`;
      const min = Number((await box.getAttribute('min')) ?? '-Infinity');
      const max = Number((await box.getAttribute('max')) ?? 'Infinity');
      const value = multiDigitValue(min, max);
      await box.click();
      await box.press('ControlOrMeta+a');
      let typed = '';
      for (const ch of value) {
        await box.press(ch === '.' ? 'Period' : ch);
        typed += ch;
        // (The browser reports an unfinished "0." as "0": numbers are compared, not strings.)
        const shown = await box.inputValue();
        if (Number(shown) !== Number(typed)) {
          problems.push(`${tab} ${name}: typing "${value}" shows "${shown}" after "${typed}"`);
          break;
        }
      }
      await box.press('Enter');
      const kept = await box.inputValue();
      typedInto++;
      if (Number(kept) !== Number(value)) {
        // The box changed the number: a note beside it must say so, naming the number it kept.
        const note = box.locator('xpath=..').locator('[role="status"]');
        if (!(await note.isVisible()) || !((await note.textContent()) ?? '').includes(kept)) {
          problems.push(`${tab} ${name}: "${value}" became "${kept}" without a note saying why`);
        }
      }
    }
  }
  expect(typedInto, 'number boxes typed into').toBeGreaterThan(20);
  expect(problems).toEqual([]);
});
