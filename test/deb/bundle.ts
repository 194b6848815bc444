import { existsSync } from 'node:fs';
import { runOk } from '../guests/run.js';

export const ROOT = new URL('../../', import.meta.url).pathname;

/** dist/pvepatch.mjs and its map and legal comments, built by scripts/build.mjs if missing. */
export async function ensureBundle(): Promise<void> {
  if (['', '.map', '.LEGAL.txt'].every((ext) => existsSync(`${ROOT}dist/pvepatch.mjs${ext}`))) return;
  await runOk([process.execPath, `${ROOT}scripts/build.mjs`], { cwd: ROOT, timeoutMs: 300_000 });
}
