/** Fails the run, never skips it, when Chromium, the Python environment or the built UI is missing. */
import fs from 'node:fs';
import { CHROMIUM, DIST_INDEX, PYTHON } from './support/env';

export default function globalSetup(): void {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it with 'apt-get install -y chromium' (or set CHROMIUM_PATH).`);
  }
  if (!fs.existsSync(PYTHON)) {
    throw new Error(`Python is missing at ${PYTHON}: run 'make install' first (or set INVOKEAI_PYTHON).`);
  }
  if (!fs.existsSync(DIST_INDEX)) {
    throw new Error(`The UI bundle is missing at ${DIST_INDEX}: run 'npm run build' first.`);
  }
}
