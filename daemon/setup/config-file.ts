/**
 * The config file edits setup makes (pve_token and the TLS trust), through config/write.ts so
 * comments, blank lines and other keys stay as they were; written atomically with mode 0600.
 * Also the PBS token file, which stands in for a config key the schema does not have yet.
 */
import { mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type ConfigEdit, readConfigText, rewriteConfigText, writeConfigFile } from '../config/write.js';
import { writeDurably } from '../store/durable-json-file.js';

/** The last value of each `key: value` line (as loadConfig reads them); comments and junk skipped. */
export function configValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return out;
}

export interface ConfigState {
  path: string;
  text: string;
  values: Record<string, string>;
}

export async function readConfigState(path: string): Promise<ConfigState> {
  const text = await readConfigText(path);
  return { path, text, values: configValues(text) };
}

/** Writes `edit` into the file; false (and nothing written) when the text would not change. */
export async function editConfig(state: ConfigState, edit: ConfigEdit, dryRun: boolean): Promise<boolean> {
  const next = rewriteConfigText(state.text, edit);
  if (next === state.text) return false;
  if (!dryRun) await writeConfigFile(state.path, next);
  state.text = next;
  state.values = configValues(next);
  return true;
}

/** `user@realm!name:secret` from the PBS token file, or undefined when there is none. */
export async function readPbsTokenFile(path: string): Promise<{ id: string; secret: string } | undefined> {
  const text = (await readConfigText(path)).trim();
  // split at the first ':' (a token id has none), no backtracking
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  const [id, secret] = [text.slice(0, colon), text.slice(colon + 1)];
  const bang = id.indexOf('!');
  const plain = (s: string) => s.length > 0 && !/[\s:]/.test(s);
  if (bang <= 0 || !plain(id.slice(0, bang)) || !plain(id.slice(bang + 1)) || secret === '' || /\s/.test(secret))
    return undefined;
  return { id, secret };
}

/** One line `user@realm!name:secret` (PBS's own `TOKENID:SECRET` form), mode 0600, atomically. */
export async function writePbsTokenFile(path: string, id: string, secret: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeDurably(path, `${id}:${secret}\n`);
}

/** Removes the PBS token file; false when there was none. */
export async function removePbsTokenFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
