/**
 * Reads what a hook printed on stdout: `KEY=VALUE` lines, of which only five allow-listed keys are
 * obeyed, and only from the pre phases. Hook output is hostile text: one linear pass, no regular
 * expressions, every ignored line a warning that names the hook and shows the line escaped and
 * cut to 200 characters. Never throws.
 */
import { z } from 'zod';
import { escapeControls } from '../core/escape.js';
import { isValidPackageName } from '../core/validate.js';
import { capped, shown } from './text.js';
import { emptyOverrides, type HookOverrides, isPrePhase } from './types.js';

/** The keys a pre-phase hook may print; anything else is ignored with a warning. */
export const OVERRIDE_KEYS = [
  'PVEPATCH__EXCLUDE',
  'PVEPATCH__REBOOT',
  'PVEPATCH__SNAPSHOT_KEEP',
  'PVEPATCH__NOTE',
  'PVEPATCH__SKIP',
] as const;

const WARNINGS_MAX = 50;
/** Longer lines are refused whole: no allow-listed value needs more (a note keeps 1000). */
const LINE_MAX = 4096;
const REBOOT = z.enum(['never', 'if-required', 'always']);
const KEEP = z.number().int().min(1).max(100);

interface Current {
  snapshot_keep?: number | undefined;
}
/** Applies one value; returns why it was not obeyed, or undefined. */
type Apply = (value: string, o: HookOverrides, current: Current) => string | undefined;

const APPLY: ReadonlyMap<string, Apply> = new Map<string, Apply>([
  ['PVEPATCH__EXCLUDE', applyExclude],
  ['PVEPATCH__REBOOT', applyReboot],
  ['PVEPATCH__SNAPSHOT_KEEP', applyKeep],
  ['PVEPATCH__NOTE', applyNote],
  ['PVEPATCH__SKIP', applySkip],
]);

function applyExclude(value: string, o: HookOverrides): string | undefined {
  const names = value
    .split(',')
    .join(' ')
    .split(' ')
    .filter((n) => n !== '');
  if (names.length === 0) return 'no package names';
  const bad = names.find((n) => !isValidPackageName(n));
  if (bad !== undefined) return `invalid package name '${shown(bad)}' - the whole line is ignored`;
  for (const n of names) o.exclude.push(n);
  return undefined;
}

function applyReboot(value: string, o: HookOverrides): string | undefined {
  const r = REBOOT.safeParse(value);
  if (!r.success) return 'reboot must be never, if-required or always';
  o.reboot = r.data;
  return undefined;
}

function isDigits(text: string): boolean {
  if (text === '' || text.length > 3) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function applyKeep(value: string, o: HookOverrides, current: Current): string | undefined {
  const n = isDigits(value) ? KEEP.safeParse(Number(value)) : undefined;
  if (!n?.success) return 'snapshot_keep must be a whole number from 1 to 100';
  const floor = current.snapshot_keep;
  if (typeof floor === 'number' && n.data < floor) {
    return `${n.data} is below the current ${floor} - a hook may make protection stricter, never weaker`;
  }
  o.snapshot_keep = n.data;
  return undefined;
}

function applyNote(value: string, o: HookOverrides): string | undefined {
  if (value === '') return 'empty note';
  o.notes.push(capped(value));
  return undefined;
}

function applySkip(value: string, o: HookOverrides): string | undefined {
  if (value === '') return 'a skip needs a reason';
  o.skip ??= capped(value);
  return undefined;
}

/** Control characters, U+FFFD (what invalid UTF-8 decodes to) or a lone surrogate: not a line to obey. */
function lineProblem(line: string): string | undefined {
  if (escapeControls(line) !== line) return 'control characters';
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0xfffd) return 'invalid UTF-8';
    if (c >= 0xdc00 && c <= 0xdfff) return 'invalid UTF-8';
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = line.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return 'invalid UTF-8';
      i++;
    }
  }
  return undefined;
}

/** Why one trimmed, non-blank, non-comment line is not obeyed, or undefined after applying it. */
function applyLine(line: string, pre: boolean, o: HookOverrides, current: Current): string | undefined {
  const eq = line.indexOf('=');
  if (!pre) return eq === -1 ? undefined : 'post hooks cannot change the result';
  if (line.length > LINE_MAX) return `longer than ${LINE_MAX} characters`;
  const problem = lineProblem(line);
  if (problem !== undefined) return problem;
  if (eq === -1) return 'not a KEY=VALUE line';
  const key = line.slice(0, eq).trim();
  const apply = APPLY.get(key);
  if (!apply) return `${shown(key)} is not a key a hook may set`;
  return apply(line.slice(eq + 1).trim(), o, current);
}

/**
 * The overrides one hook printed. `hook` names it in warnings (`pre-guest.d/10-dump`). In a post
 * phase nothing is obeyed and every `KEY=VALUE` line is a warning; other lines are plain output.
 */
export function parseOverrides(
  stdout: string,
  phase: string,
  hook = '?',
  current: Current = {},
): { overrides: HookOverrides; warnings: string[] } {
  const overrides = emptyOverrides();
  const warnings: string[] = [];
  const pre = isPrePhase(phase);
  let unshown = 0;
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const why = applyLine(line, pre, overrides, current ?? {});
    if (why === undefined) continue;
    if (warnings.length < WARNINGS_MAX) warnings.push(`hook ${shown(hook)}: ignored '${shown(line)}' - ${why}`);
    else unshown++;
  }
  if (unshown > 0) warnings.push(`hook ${shown(hook)}: ${unshown} more ignored lines not shown`);
  overrides.exclude = [...new Set(overrides.exclude)];
  return { overrides, warnings };
}
