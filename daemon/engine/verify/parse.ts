/**
 * Readers of what systemctl prints in the guest. The guest's text is hostile: lines are scanned
 * once without a regex over the guest text, only the first columns of a line are looked at, unit
 * names must look like unit names, and the count is capped.
 */
import { escapeControls } from '../../core/escape.js';
import type { ExecResult } from '../../core/exec.js';
import { isValidUnitName } from '../../policy/checks.js';

export const MAX_FAILED_UNITS = 1000;
/** Lines with ' failed' in them looked at, at most: a guest printing more is not listing units. */
const MAX_CANDIDATE_LINES = 20 * MAX_FAILED_UNITS;
/** A unit name (at most 256) and the LOAD and ACTIVE columns fit in this many characters. */
const HEAD_CHARS = 512;
const UNIT_TYPES = new Set([
  'service',
  'socket',
  'device',
  'mount',
  'automount',
  'swap',
  'target',
  'path',
  'timer',
  'slice',
  'scope',
]);

export interface FailedUnitScan {
  units: string[];
  /** More failed units than MAX_FAILED_UNITS, or more lines than a listing has: the list is cut. */
  truncated: boolean;
}

/** `UNIT LOAD ACTIVE SUB DESCRIPTION` lines → the names of the units whose ACTIVE is `failed`. */
export function parseFailedUnits(stdout: string): string[] {
  return scanFailedUnits(stdout).units;
}

export function scanFailedUnits(stdout: string): FailedUnitScan {
  const units = new Set<string>();
  let from = 0;
  for (let candidates = 0; from < stdout.length; candidates++) {
    if (candidates === MAX_CANDIDATE_LINES) return { units: [...units], truncated: true };
    // only a line with ' failed' in it can name a failed unit: jump to the next such line, so
    // lines of garbage (or millions of empty ones) cost one indexOf, not one slice each
    const hit = stdout.indexOf(' failed', from);
    if (hit < 0) break;
    const start = stdout.lastIndexOf('\n', hit) + 1;
    const nl = stdout.indexOf('\n', hit);
    const end = nl < 0 ? stdout.length : nl;
    const unit = failedUnitOf(stdout, start, Math.min(end, start + HEAD_CHARS));
    if (unit !== undefined && !units.has(unit)) {
      if (units.size === MAX_FAILED_UNITS) return { units: [...units], truncated: true };
      units.add(unit);
    }
    from = end + 1;
  }
  return { units: [...units], truncated: false };
}

/** The unit of the line in text[start, end) when it is a well-formed failed-unit line. */
function failedUnitOf(text: string, start: number, end: number): string | undefined {
  const words = wordBounds(text, start, end, 4);
  // without --plain (or on an old systemd) a bullet may lead the line
  const first = text.slice(words[0] ?? 0, words[1] ?? 0);
  const at = first === '\u25cf' || first === '*' ? 2 : 0;
  if (words.length < at + 6) return undefined;
  const activeFrom = words[at + 4]!;
  if (words[at + 5]! - activeFrom !== 6 || !text.startsWith('failed', activeFrom)) return undefined;
  const unit = text.slice(words[at]!, words[at + 1]!);
  if (!isValidUnitName(unit)) return undefined;
  const dot = unit.lastIndexOf('.');
  return dot > 0 && UNIT_TYPES.has(unit.slice(dot + 1)) ? unit : undefined;
}

/** Start and end offsets of the first `max` space-separated words in text[start, end). */
function wordBounds(text: string, start: number, end: number, max: number): number[] {
  const bounds: number[] = [];
  let i = start;
  while (bounds.length < max * 2) {
    while (i < end && text.charCodeAt(i) === 32) i++;
    if (i >= end) break;
    const from = i;
    while (i < end && text.charCodeAt(i) !== 32) i++;
    bounds.push(from, i);
  }
  return bounds;
}

/** Newly failed units: in `after`, not in `before`. */
export function diffFailed(before: readonly string[], after: readonly string[]): string[] {
  const old = new Set(before);
  return after.filter((u) => !old.has(u));
}

/**
 * Why systemctl could not answer in this guest, or undefined when it did. A guest without
 * systemd is told apart from one with no failed units; the reason quotes the guest, escaped.
 */
export function systemdAbsence(res: ExecResult): string | undefined {
  if (res.exitCode === 0) return undefined;
  const said = firstLine(res.stderr) || firstLine(res.stdout);
  const quote = said ? ` (${said})` : '';
  const stderr = res.stderr.slice(0, 4096);
  if (res.exitCode === 127 || /No such file or directory|command not found|Failed to exec/.test(stderr)) {
    return `systemctl is not installed in the guest${quote}`;
  }
  if (/has not been booted with systemd|Failed to connect to bus|Failed to get D-Bus connection/.test(stderr)) {
    return `systemd is not running in the guest${quote}`;
  }
  return undefined;
}

/** The first non-empty line of guest text, escaped and cut to `max` characters. */
export function firstLine(text: string, max = 200): string {
  if (!Number.isInteger(max) || max < 1) max = 200;
  let from = 0;
  while (from < text.length) {
    const nl = text.indexOf('\n', from);
    const end = nl < 0 ? text.length : nl;
    const line = text.slice(from, Math.min(end, from + max + 1)).trim();
    if (line !== '') return escapeControls(line.length > max ? `${line.slice(0, max)}...` : line);
    from = end + 1;
  }
  return '';
}
