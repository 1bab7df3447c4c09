/** The Models dialog against the real server: scan an AUTOMATIC1111 tree, import a file, load it, remove it, errors. */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Locator, Page } from '@playwright/test';
import { expect, screenshot, smallSettings, test } from './support/fixtures';
import { PYTHON, REPO_ROOT } from './support/env';
import { MODEL_MANAGEMENT_ARGS, validateModelManagementArgs } from '../test/protocolSchema';

let tree = '';
let scannedFolder = '';
let looseFile = '';

/** A temp AUTOMATIC1111-like tree with one tiny checkpoint, and a copy of it outside the tree for importing. */
test.beforeAll(() => {
  tree = fs.mkdtempSync(path.join(os.tmpdir(), 'invokeai-a1111-'));
  scannedFolder = path.join(tree, 'models', 'Stable-diffusion');
  const scanned = path.join(scannedFolder, 'tiny-scanned.safetensors');
  const result = spawnSync(PYTHON, ['-m', 'tests.support.make_tiny_checkpoint', scanned], {
    cwd: REPO_ROOT,
    env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.status !== 0) throw new Error(`make_tiny_checkpoint failed:\n${result.stderr}\n${result.stdout}`);
  looseFile = path.join(tree, 'loose', 'tiny-imported.safetensors');
  fs.mkdirSync(path.dirname(looseFile), { recursive: true });
  fs.copyFileSync(scanned, looseFile);
});

test.afterAll(() => {
  if (tree) fs.rmSync(tree, { recursive: true, force: true });
});

const dialog = (page: Page) => page.getByRole('dialog', { name: 'Models' });
const row = (page: Page, name: string) => dialog(page).locator(`[data-testid="model-row"][data-model="${name}"]`);
const pickerOptions = (page: Page): Locator => page.getByTestId('model-picker').locator('option');

async function pickerNames(page: Page): Promise<string[]> {
  return (await pickerOptions(page).evaluateAll((opts) => opts.map((o) => (o as HTMLOptionElement).value))).sort();
}

/** A screenshot of the dialog alone: no focus tooltip, and the toasts of the steps before dismissed. */
async function dialogShot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const dismiss = page.locator('.toasts').getByRole('button', { name: 'Dismiss' });
  while ((await dismiss.count()) > 0) await dismiss.first().click();
  await screenshot(page, name);
}

/** The models.yaml entry of one model, as text (the server writes block-style YAML). */
function yamlEntry(root: string, name: string): string {
  const text = fs.readFileSync(path.join(root, 'models.yaml'), 'utf8');
  return text.split(/^(?=\S)/m).find((block) => block.startsWith(`${name}:`)) ?? '';
}

async function setTheme(page: Page, theme: 'dark' | 'light'): Promise<void> {
  if ((await page.locator('html').getAttribute('data-theme')) !== theme) await page.getByTestId('theme-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', theme);
}

/** Removes a model through the dialog's Remove → confirm, and waits for the server's new list. */
async function removeModel(page: Page, name: string): Promise<void> {
  await row(page, name).getByTestId('model-remove').click();
  const confirmation = row(page, name).getByTestId('model-remove-confirmation');
  await expect(confirmation).toContainText('files are not deleted');
  await confirmation.getByTestId('model-remove-confirm').click();
  await expect(dialog(page).getByTestId('models-success')).toContainText(`Removed ${name} from the model list`, { timeout: 60_000 });
  await expect(row(page, name)).toHaveCount(0);
}

test('the Models dialog scans a folder, imports, loads and removes a model, and shows errors', async ({ app: page, server, sent }) => {
  test.setTimeout(300_000);
  await setTheme(page, 'dark');
  const picker = page.getByTestId('model-picker');
  await expect(picker).toHaveValue('demo');

  await page.getByTestId('open-models').click();
  await expect(dialog(page)).toBeVisible();
  await expect(row(page, 'demo').getByTestId('model-status')).toHaveText('Active');
  await expect(row(page, 'demo-alt').getByTestId('model-status')).toHaveText('Not loaded');
  // The active model cannot be removed: its button says why instead.
  await expect(row(page, 'demo').getByTestId('model-remove')).toBeDisabled();

  // Scan the AUTOMATIC1111 folder: the new model is listed here and in the header's picker.
  await dialog(page).getByTestId('scan-path').fill(scannedFolder);
  await dialog(page).getByTestId('scan-submit').click();
  await expect(dialog(page).getByTestId('models-success')).toContainText('The scan added 1 model', { timeout: 90_000 });
  await expect(dialog(page).getByTestId('models-success')).toContainText('tiny-scanned');
  await expect(row(page, 'tiny-scanned')).toBeVisible();
  await expect(row(page, 'tiny-scanned')).toContainText('checkpoint');
  await expect(page.getByTestId('toast-success').filter({ hasText: 'The scan added 1 model' })).toBeVisible();
  await expect.poll(() => pickerNames(page)).toEqual(['demo', 'demo-alt', 'tiny-scanned']);
  await expect(dialog(page).getByTestId('scan-path')).toHaveValue('');

  // Import a file by path under a name of our choosing.
  await dialog(page).getByTestId('import-path').fill(looseFile);
  await dialog(page).getByTestId('import-name').fill('my-import');
  await dialog(page).getByTestId('import-default').setChecked(true);
  await dialog(page).getByTestId('import-submit').click();
  await expect(dialog(page).getByTestId('models-success')).toHaveText('Added my-import to the model list.', { timeout: 90_000 });
  await expect(row(page, 'my-import')).toBeVisible();
  await expect.poll(() => pickerNames(page)).toEqual(['demo', 'demo-alt', 'my-import', 'tiny-scanned']);
  expect(yamlEntry(server.root, 'my-import')).toMatch(/\n\s+default: true/); // "make default" reached the server
  expect(yamlEntry(server.root, 'demo')).not.toMatch(/default: true/);
  await expect(row(page, 'my-import').getByTestId('model-default')).toHaveText('Default');
  await expect(row(page, 'my-import').getByTestId('model-make-default')).toBeDisabled();
  await expect(dialog(page).getByTestId('import-default')).not.toBeChecked(); // the form starts afresh
  await expect(dialog(page).getByTestId('scan-submit')).toBeDisabled(); // both forms are empty again
  await expect(dialog(page).getByTestId('import-submit')).toBeDisabled();
  await dialogShot(page, 'models-dark');

  // Load it: the header shows it active, and so does the dialog.
  await row(page, 'my-import').getByTestId('model-load').click();
  await expect(picker).toHaveValue('my-import', { timeout: 90_000 });
  await expect(row(page, 'my-import').getByTestId('model-status')).toHaveText('Active');
  await expect(row(page, 'my-import').getByTestId('model-remove')).toBeDisabled();
  await expect(row(page, 'demo').getByTestId('model-load')).toBeEnabled();

  // Back to the demo model, then remove the imported one: gone from both lists, its file still on disk.
  await row(page, 'demo').getByTestId('model-load').click();
  await expect(picker).toHaveValue('demo', { timeout: 90_000 });
  await expect(row(page, 'my-import').getByTestId('model-status')).toHaveText('Cached');
  await row(page, 'my-import').getByTestId('model-remove').click();
  await row(page, 'my-import').getByTestId('model-remove-cancel').click(); // Keep closes the question
  await expect(row(page, 'my-import').getByTestId('model-remove-confirmation')).toHaveCount(0);
  await removeModel(page, 'my-import');
  await expect.poll(() => pickerNames(page)).toEqual(['demo', 'demo-alt', 'tiny-scanned']);
  expect(fs.existsSync(looseFile), 'the model file stays on disk').toBe(true);

  // Make default, row by row: demo is the model loaded at start-up again, written to models.yaml.
  await row(page, 'demo').getByTestId('model-make-default').click();
  await expect(row(page, 'demo').getByTestId('model-default')).toHaveText('Default', { timeout: 60_000 });
  await expect(dialog(page).getByTestId('models-success')).toHaveText('demo is now the default: the server loads it when it starts.');
  await expect(dialog(page).getByTestId('model-default')).toHaveCount(1);
  expect(yamlEntry(server.root, 'demo')).toMatch(/\n\s+default: true/);

  // A bad path: the server's own message, in the dialog.
  await page.keyboard.press('Escape'); // the theme toggle sits under the dialog's backdrop
  await setTheme(page, 'light');
  await page.getByTestId('open-models').click();
  await expect(dialog(page).getByTestId('models-success')).toHaveCount(0); // reopened with a clean slate
  await dialog(page).getByTestId('import-path').fill(path.join(tree, 'missing', 'nope.safetensors'));
  await dialog(page).getByTestId('import-submit').click();
  const error = dialog(page).getByTestId('models-error');
  await expect(error).toHaveText(`Invalid path: ${path.join(tree, 'missing', 'nope.safetensors')} does not exist.`, { timeout: 60_000 });
  await expect(dialog(page).getByTestId('import-path')).toHaveValue(path.join(tree, 'missing', 'nope.safetensors'));
  await expect(page.getByTestId('toast-error')).toHaveCount(0); // shown in the dialog, not over it
  await dialogShot(page, 'models-light');
  await dialog(page).getByTestId('scan-path').fill(looseFile);
  await dialog(page).getByTestId('scan-submit').click();
  await expect(error).toContainText('is not a folder', { timeout: 60_000 });

  // Leave the server's models as the other specs expect them.
  await removeModel(page, 'tiny-scanned');
  await expect.poll(() => pickerNames(page)).toEqual(['demo', 'demo-alt']);
  expect(fs.existsSync(path.join(scannedFolder, 'tiny-scanned.safetensors'))).toBe(true);
  await page.keyboard.press('Escape');
  await expect(dialog(page)).toHaveCount(0);

  // What went over the wire matches the protocol: two scans, two imports, two removals, one new default.
  const modelEvents = sent.filter((s) => s.event in MODEL_MANAGEMENT_ARGS);
  expect(modelEvents.map((s) => s.event).sort()).toEqual(
    ['deleteModel', 'deleteModel', 'importModel', 'importModel', 'scanModelFolder', 'scanModelFolder', 'setDefaultModel'],
  );
  for (const { event, args } of modelEvents) expect(validateModelManagementArgs(event, args), event).toEqual([]);
  expect(modelEvents.find((s) => s.event === 'importModel')?.args).toEqual([looseFile, 'my-import', true]);
});

test('Settings opens the Models dialog, and the dialog is labelled for keyboard users', async ({ app: page }) => {
  await page.getByTestId('open-settings').click();
  await page.getByTestId('settings-open-models').click();
  await expect(page.getByTestId('settings-modal')).toHaveCount(0);
  await expect(dialog(page)).toBeVisible();
  await expect(dialog(page).getByLabel('Path', { exact: true })).toHaveAttribute('data-testid', 'import-path');
  await expect(dialog(page).getByLabel('Folder', { exact: true })).toHaveAttribute('data-testid', 'scan-path');
  await expect(dialog(page).getByRole('button', { name: 'Add model' })).toBeDisabled(); // no path yet
  await expect(dialog(page).getByRole('button', { name: 'Load demo-alt' })).toBeEnabled();
  // The active model's Remove is disabled, and its tooltip says why.
  await row(page, 'demo').getByTestId('model-remove').hover();
  await expect(page.getByRole('tooltip')).toHaveText('The active model cannot be removed; load another model first.');
  await page.keyboard.press('Escape');
  await expect(dialog(page)).toHaveCount(0);
});

test('a model job queued behind a generation shows as pending, with the buttons disabled, until it runs', async ({ app: page }) => {
  const empty = fs.mkdtempSync(path.join(tree, 'empty-'));
  await page.getByTestId('prompt').fill('a queue of models');
  await smallSettings(page, 64, 500); // long enough to stay running; canceled below
  await page.getByTestId('invoke').click();
  await expect(page.getByTestId('progress-details')).toContainText(/Step \d+\/500/);

  await page.getByTestId('open-models').click();
  await dialog(page).getByTestId('scan-path').fill(empty);
  await dialog(page).getByTestId('scan-submit').click();
  const pending = dialog(page).getByTestId('models-pending');
  await expect(pending).toContainText(`Scanning ${empty}`);
  await expect(dialog(page).getByTestId('scan-submit')).toBeDisabled();
  await expect(row(page, 'demo-alt').getByTestId('model-load')).toBeDisabled();
  await expect(row(page, 'demo-alt').getByTestId('model-remove')).toBeDisabled();
  // Closing and reopening the dialog keeps the job's state.
  await page.keyboard.press('Escape');
  await page.getByTestId('open-models').click();
  await expect(pending).toBeVisible();
  await page.keyboard.press('Escape');
  await page.getByTestId('cancel').click();
  // The scan runs as soon as the generation stops, maybe before the dialog is open again: its
  // outcome is a toast either way (a reopened dialog starts with a clean slate).
  await expect(page.getByTestId('toast-success').filter({ hasText: 'The scan found no new models.' })).toBeVisible({ timeout: 90_000 });
  await page.getByTestId('open-models').click();
  await expect(pending).toHaveCount(0);
  await expect(row(page, 'demo-alt').getByTestId('model-load')).toBeEnabled();
});

test('a running scan is canceled from the Models dialog, and the outcome says how far it got', async ({ app: page }) => {
  const many = fs.mkdtempSync(path.join(tree, 'many-'));
  const files = 8000; // each one is read (about a millisecond each), so the scan runs for seconds
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(many, `junk-${String(i).padStart(4, '0')}.ckpt`), crypto.randomBytes(64));
  await page.getByTestId('open-models').click();
  await dialog(page).getByTestId('scan-path').fill(many);
  await dialog(page).getByTestId('scan-submit').click();
  await expect(dialog(page).getByTestId('models-scan-progress')).toContainText(new RegExp(`Scanning \\d+/${files} files`));
  await dialog(page).getByTestId('models-cancel-scan').click();
  const outcome = dialog(page).getByTestId('models-success');
  await expect(outcome).toContainText(new RegExp(`The scan was canceled after \\d+ of ${files} files\\. Until then it found no new models\\.`), { timeout: 60_000 });
  const checked = Number(/after (\d+) of/.exec((await outcome.textContent()) ?? '')?.[1]);
  expect(checked).toBeLessThan(files);
  if (checked > 0) await expect(outcome).toContainText(`${checked} file${checked === 1 ? '' : 's'} left alone`);
  await dialogShot(page, 'models-scan-canceled');
  await expect(dialog(page).getByTestId('models-pending')).toHaveCount(0);
});
