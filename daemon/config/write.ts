import { mkdir, readFile, realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeDurably } from '../store/durable-json-file.js';

/** Keys to set (value as written after `key: `) and keys to remove. */
export interface ConfigEdit {
  set: Record<string, string>;
  delete: string[];
}

/** The key of a `key: value` line, or undefined for blank lines, comments and anything else. */
function keyOfLine(line: string): string | undefined {
  const t = line.trim();
  if (!t || t.startsWith('#')) return undefined;
  const colon = t.indexOf(':');
  if (colon <= 0) return undefined;
  const key = t.slice(0, colon).trim();
  return /^[a-z_]{1,64}$/.test(key) ? key : undefined;
}

/**
 * The config text with `edit` applied, every other line (comments, blank lines, order, other keys)
 * kept as it was: a set key's first line is replaced in place and its later duplicates (which would
 * win when read) dropped, a key not in the file is appended, a deleted key loses all its lines.
 * Values must already be one line; the caller checks them.
 */
export function rewriteConfigText(text: string, edit: ConfigEdit): string {
  const lines = text === '' ? [] : text.split('\n');
  // a final newline leaves an empty last element: keep it aside so appended keys go before it
  const endsWithNewline = lines.length > 0 && lines[lines.length - 1] === '';
  if (endsWithNewline) lines.pop();
  const remove = new Set(edit.delete);
  const pending = new Map(Object.entries(edit.set));
  const written = new Set<string>();
  const out: string[] = [];
  for (const line of lines) {
    const key = keyOfLine(line);
    if (key === undefined || (!remove.has(key) && !pending.has(key))) {
      out.push(line);
      continue;
    }
    if (remove.has(key) || written.has(key)) continue;
    out.push(`${key}: ${pending.get(key)}`);
    written.add(key);
  }
  for (const [key, value] of pending) if (!written.has(key)) out.push(`${key}: ${value}`);
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** The config file's text; '' when it does not exist yet. */
export async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/**
 * Replaces the config file atomically: a 0600 temp file in the same directory, fsync, rename, fsync
 * of the directory. A symlinked config file keeps its link (the target is replaced).
 */
export async function writeConfigFile(path: string, text: string): Promise<void> {
  let target = path;
  try {
    target = await realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  }
  await writeDurably(target, text);
}
