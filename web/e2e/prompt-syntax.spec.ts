/** Settings › Prompt syntax: AUTOMATIC1111's syntax with its own negative prompt box, sent with generateImage,
 * recorded in the result, and brought back by Use All (which then repeats the picture exactly). */
import type { Page } from '@playwright/test';
import {
  expect,
  imageMetadata,
  invokeAndWait,
  pixelDigest,
  screenshot,
  setNumber,
  setSwitch,
  smallSettings,
  test,
} from './support/fixtures';

async function chooseSyntax(page: Page, syntax: 'invoke' | 'a1111'): Promise<void> {
  await page.getByTestId('open-settings').click();
  await page.getByTestId('setting-prompt-syntax').selectOption(syntax);
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('settings-modal')).toBeHidden();
}

test('A1111 syntax: the setting adds a negative prompt box, the recipe records both, Use All restores them', async ({ app: page, sent }) => {
  await expect(page.getByTestId('negative-prompt')).toHaveCount(0);
  await chooseSyntax(page, 'a1111');
  await page.getByTestId('prompt').fill('[cat:dog:0.5], (fur:1.3)');
  await page.getByTestId('negative-prompt').fill('(fog:1.2), [rain]');
  await smallSettings(page, 64, 4);
  await setSwitch(page, 'randomize-seed', false);
  await setNumber(page, 'seed', 4242);
  const [target] = await invokeAndWait(page, 1);
  await screenshot(page, 'prompt-syntax-a1111');
  const generation = sent.filter((s) => s.event === 'generateImage').at(-1)?.args[0] as Record<string, unknown>;
  expect(generation).toMatchObject({ prompt_syntax: 'a1111', negative_prompt: '(fog:1.2), [rain]' });
  const recipe = (await imageMetadata(page, target)).image as Record<string, unknown>;
  expect(recipe).toMatchObject({ prompt_syntax: 'a1111', negative_prompt: '(fog:1.2), [rain]' });
  const digest = await pixelDigest(page, target);

  await chooseSyntax(page, 'invoke'); // the same words now mean something else: a different picture
  await expect(page.getByTestId('negative-prompt')).toHaveCount(0);
  const [invokeRead] = await invokeAndWait(page, 1);
  expect(await pixelDigest(page, invokeRead)).not.toBe(digest);

  const thumb = page.getByTestId('gallery-grid-result').locator(`[data-url="${target}"]`);
  await thumb.hover();
  await thumb.getByTestId('thumb-use-all').click();
  await expect(page.getByTestId('negative-prompt')).toHaveValue('(fog:1.2), [rain]');
  await page.getByTestId('open-settings').click();
  await expect(page.getByTestId('setting-prompt-syntax')).toHaveValue('a1111');
  await page.keyboard.press('Escape');
  const [again] = await invokeAndWait(page, 1);
  expect(await pixelDigest(page, again)).toBe(digest);
});
