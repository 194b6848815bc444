import { existsSync } from 'node:fs';
import { runOk } from '../guests/run.js';

export const ROOT = new URL('../../', import.meta.url).pathname;

/** dist/pvepatch.mjs, its map and legal comments, and the web UI panel, built by scripts/build.mjs if missing. */
export async function ensureBundle(): Promise<void> {
  const files = ['', '.map', '.LEGAL.txt'].map((ext) => `dist/pvepatch.mjs${ext}`).concat('dist/ui/pvepatch-ui.js');
  if (files.every((f) => existsSync(`${ROOT}${f}`))) return;
  await runOk([process.execPath, `${ROOT}scripts/build.mjs`], { cwd: ROOT, timeoutMs: 300_000 });
}
