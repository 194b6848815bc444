/**
 * Pure parsers every family shares. Linear in their input: lines are split once, no regex is
 * run over guest text, and names are checked with the package-name rule.
 */
import { isValidPackageName } from '../../core/validate.js';

/** One package name per line (`/run/reboot-required.pkgs`, `zypper ps -sss`), unique, invalid names dropped. */
export function parseNameList(stdout: string): string[] {
  const names = new Set<string>();
  for (const line of stdout.split('\n')) {
    const name = line.trim();
    if (isValidPackageName(name)) names.add(name);
  }
  return [...names];
}

/** `find /etc … -printf '%p\t%C@\n'` → path → ctime (seconds, as printed). */
export function parseConffiles(stdout: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const tab = line.lastIndexOf('\t');
    if (tab > 0 && line.startsWith('/')) files.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return files;
}

/** `pgrep -a NAME` → `pid command line` entries. */
export function parsePgrep(stdout: string): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    const space = line.indexOf(' ');
    const pid = space > 0 ? Number(line.slice(0, space)) : Number.NaN;
    const command = line.slice(space + 1).trim();
    if (Number.isSafeInteger(pid) && pid > 0 && command !== '') found.push({ pid, command });
  }
  return found;
}

/** The text after `prefix` on the first line that starts with it, or null. */
export function lineAfter(text: string, prefix: string): string | null {
  let at = 0;
  if (!text.startsWith(prefix)) {
    const i = text.indexOf(`\n${prefix}`);
    if (i < 0) return null;
    at = i + 1;
  }
  const start = at + prefix.length;
  const end = text.indexOf('\n', start);
  return text.slice(start, end < 0 ? text.length : end);
}

/** Whether a decimal string is all digits (and short enough to be a number we use). */
export function isDigits(text: string, maxLength = 15): boolean {
  if (text.length === 0 || text.length > maxLength) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
