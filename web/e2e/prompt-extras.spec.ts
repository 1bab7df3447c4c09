/** LoRA names and embedding words: completed in the prompt box from the root's folders, and what a prompt named but the studio ignored is shown on the result. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, invokeAndWait, resultCount, screenshot, smallSettings, test } from './support/fixtures';
import { PYTHON, REPO_ROOT } from './support/env';

/** A real tiny LoRA for the demo model, plus a pickle LoRA and a pickle embedding the studio refuses. */
test.beforeAll(({ server }) => {
  const result = spawnSync(PYTHON, ['-m', 'tests.support.prompt_extras', server.root], {
    cwd: REPO_ROOT,
    env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.status !== 0) throw new Error(`prompt_extras failed:\n${result.stderr}\n${result.stdout}`);
});

test.afterAll(({ server }) => {
  for (const folder of ['loras', 'embeddings']) fs.rmSync(path.join(server.root, folder), { recursive: true, force: true });
});

test('the prompt box completes LoRA names and embedding words from the keyboard, and the result says what was ignored', async ({ app: page, server }) => {
  await smallSettings(page);
  const before = await resultCount(page);
  const prompt = page.getByTestId('prompt');
  const list = page.getByTestId('prompt-suggestions');
  const options = list.getByRole('option');

  await prompt.click();
  await prompt.pressSequentially('a cat <lora:go');
  await expect(options).toHaveText([/^goodlora/]);
  // Screen readers follow the highlighted suggestion while the focus stays in the box.
  await expect(prompt).toHaveAttribute('aria-activedescendant', (await options.nth(0).getAttribute('id')) ?? 'missing');
  await screenshot(page, 'prompt-completion-lora');
  await prompt.press('Enter'); // takes the suggestion; it does not invoke
  await expect(prompt).toHaveValue('a cat <lora:goodlora:1>');
  await expect(list).toBeHidden();

  await prompt.pressSequentially(' <lora:');
  await expect(options).toHaveText([/^goodlora/, /^junklora/, /^picklelora/]);
  await expect(options.nth(0)).toHaveAttribute('aria-selected', 'true');
  await prompt.press('ArrowDown');
  await prompt.press('ArrowDown');
  await expect(options.nth(2)).toHaveAttribute('aria-selected', 'true');
  await prompt.press('ArrowUp');
  await prompt.press('ArrowUp');
  await prompt.press('ArrowUp'); // wraps round to the last
  await expect(options.nth(2)).toHaveAttribute('aria-selected', 'true');
  await expect(prompt).toHaveAttribute('aria-activedescendant', (await options.nth(2).getAttribute('id')) ?? 'missing');
  await prompt.press('Tab');
  await expect(prompt).toHaveValue('a cat <lora:goodlora:1> <lora:picklelora:1>');
  await expect(prompt).toBeFocused();

  await prompt.pressSequentially(' pick');
  await expect(options).toHaveText([/^picklestyle\s*embedding/]);
  await prompt.press('Escape'); // closes the list and keeps what was typed
  await expect(list).toBeHidden();
  await expect(prompt).not.toHaveAttribute('aria-activedescendant');
  await expect(prompt).toHaveValue('a cat <lora:goodlora:1> <lora:picklelora:1> pick');
  await prompt.pressSequentially('lestyle <lora:missing:0.5>');
  await expect(list).toBeHidden();
  expect(await resultCount(page)).toBe(before); // no Enter above started a generation
  await expect(page.getByTestId('cancel')).toBeDisabled();

  await invokeAndWait(page, 1);
  const warnings = page.getByTestId('result-warnings');
  await expect(warnings).toBeVisible();
  await expect(warnings).toContainText(`LoRA 'missing' was not found in ${path.join(server.root, 'loras')}; it was ignored`);
  await expect(warnings).toContainText("LoRA 'picklelora' could not be applied to this model: picklelora.ckpt was refused: it is a pickle");
  await expect(warnings).toContainText("Embedding 'picklestyle' could not be used with this model: picklestyle.pt was refused");
  await expect(warnings.getByRole('listitem')).toHaveCount(3);
  await screenshot(page, 'prompt-extras-warnings');
});
