/** Where the e2e suite finds Chromium, Python and the repository, overridable by environment variables. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const WEB_DIR = path.resolve(here, '..', '..');
export const REPO_ROOT = path.resolve(WEB_DIR, '..');
export const FIXTURES = path.resolve(here, '..', 'fixtures');
export const SCREENSHOTS = path.resolve(WEB_DIR, 'test-results', 'screenshots');
export const DIST_INDEX = path.resolve(REPO_ROOT, 'invokeai_gui', 'frontend', 'dist', 'index.html');

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The repository's virtual environment, as `make install` creates it; INVOKEAI_PYTHON overrides. */
export const PYTHON = process.env.INVOKEAI_PYTHON ?? path.join(REPO_ROOT, '.venv', 'bin', 'python');
