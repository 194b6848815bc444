import { PvepatchError } from '../core/errors.js';

/** The largest config file a hook reads. */
export const MAX_CONFIG_BYTES = 64 * 1024;

export interface ConfigLine {
  /** 1-based line number, for error messages (which never show a value: it may be a secret). */
  line: number;
  key: string;
  value: string;
}

/**
 * Splits a small config file into `key<sep>value` lines, linearly and without regular
 * expressions; blank lines and lines starting with '#' are skipped. `sep` ':' reads the
 * `key: value` files of Proxmox (vzdump.conf); ' ' reads `key value` (the first run of blanks
 * separates, so a value may hold spaces). Keys are lower-case letters, digits, '-' and '_'.
 */
export function configLines(text: string, source: string, sep: ':' | ' '): ConfigLine[] {
  if (text.length > MAX_CONFIG_BYTES) {
    throw new PvepatchError('config-invalid', `unable to read ${source} - larger than ${MAX_CONFIG_BYTES / 1024} KiB`);
  }
  const out: ConfigLine[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const at = sep === ':' ? line.indexOf(':') : firstBlank(line);
    const key = at > 0 ? line.slice(0, at).trim() : line;
    const value = at > 0 ? line.slice(at + 1).trim() : '';
    if (!isKey(key) || value === '') {
      throw new PvepatchError(
        'config-invalid',
        `${source} line ${i + 1}: expected 'key${sep === ':' ? ': ' : ' '}value' (the line is not shown, it may hold a secret)`,
      );
    }
    out.push({ line: i + 1, key, value });
  }
  return out;
}

function firstBlank(line: string): number {
  const s = line.indexOf(' ');
  const t = line.indexOf('\t');
  if (s < 0) return t;
  if (t < 0) return s;
  return Math.min(s, t);
}

function isKey(key: string): boolean {
  if (key.length === 0 || key.length > 64) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    const ok = (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95;
    if (!ok) return false;
  }
  return true;
}

/** Whether text holds a control character (a newline in a path or a namespace is never meant). */
export function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** A whole number of seconds in [min, max]; the message names the key, not the value's line. */
export function secondsValue(l: ConfigLine, source: string, min: number, max: number): number {
  const digits = l.value.length <= 9 && [...l.value].every((c) => c >= '0' && c <= '9');
  const n = digits && l.value !== '' ? Number(l.value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new PvepatchError(
      'config-invalid',
      `${source} line ${l.line}: ${l.key} must be a whole number of seconds from ${min} to ${max}`,
    );
  }
  return n;
}

/** An absolute path without control characters. */
export function pathValue(l: ConfigLine, source: string): string {
  if (!l.value.startsWith('/') || hasControl(l.value) || l.value.length > 4096) {
    throw new PvepatchError('config-invalid', `${source} line ${l.line}: ${l.key} must be an absolute path`);
  }
  return l.value;
}
