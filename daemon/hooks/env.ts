/**
 * The whole environment a hook gets — nothing from the daemon's own — and the plan file it reads.
 * Fields become `PVEPATCH__<FIELD>`: strings as they are, arrays joined with single spaces,
 * booleans `1`/`0`, numbers in decimal; null and undefined are left out (so `${PVEPATCH__X-}`
 * tells "not given" from "empty"). NUL bytes are removed and each value is cut to 64 KiB.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cut, shown } from './text.js';
import type { HookFieldValue, HookPhase } from './types.js';

export const HOOK_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
/** Per value, in UTF-16 units. */
export const VALUE_MAX = 64 * 1024;
/** Set by the runner itself; a caller's field of the same name is dropped with a warning. */
const RESERVED = new Set(['PHASE', 'HOOK', 'PLAN_FILE']);

/** Letters, digits and '_', not starting with a digit: a name every shell can read. */
function isFieldName(name: string): boolean {
  if (name === '' || name.length > 100) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    if (!letter && !(i > 0 && c >= 48 && c <= 57)) return false;
  }
  return true;
}

export function envValue(value: HookFieldValue): string | undefined {
  if (value === null || value === undefined) return undefined;
  let text: string;
  if (typeof value === 'boolean') text = value ? '1' : '0';
  else if (typeof value === 'number') text = Number.isFinite(value) ? String(value) : '';
  else if (typeof value === 'string') text = value;
  else text = value.map(String).join(' ');
  return cut(text.split('\0').join(''), VALUE_MAX);
}

/** The caller's fields as `PVEPATCH__*` variables, and a warning for each field that cannot be one. */
export function fieldEnv(fields: Record<string, HookFieldValue>): { env: Record<string, string>; warnings: string[] } {
  const env: Record<string, string> = {};
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    const key = name.toUpperCase();
    if (!isFieldName(name) || RESERVED.has(key)) {
      warnings.push(`hook field '${shown(name)}' left out - not a usable variable name or reserved`);
      continue;
    }
    const text = envValue(value);
    if (text !== undefined) env[`PVEPATCH__${key}`] = text;
  }
  return { env, warnings };
}

/** One hook's environment: the fields, what the runner sets, a minimal PATH and the C locale. */
export function hookEnv(
  fields: Record<string, string>,
  run: { phase: HookPhase; hook: string; planFile: string },
): Record<string, string> {
  return {
    ...fields,
    PVEPATCH__PHASE: run.phase,
    PVEPATCH__HOOK: cut(run.hook.split('\0').join(''), VALUE_MAX),
    PVEPATCH__PLAN_FILE: run.planFile,
    PATH: HOOK_PATH,
    LC_ALL: 'C',
  };
}

export interface PlanFile {
  path: string;
  /** Removes the file and its private directory; never throws. */
  dispose(): Promise<void>;
}

/** `plan` as JSON in a new 0600 file inside a new private (0700) directory under the temp dir. */
export async function writePlanFile(plan: unknown): Promise<PlanFile> {
  const json = JSON.stringify(plan ?? null) ?? 'null';
  const dir = await mkdtemp(join(tmpdir(), 'pvepatch-hook-'));
  const dispose = () => rm(dir, { recursive: true, force: true }).catch(() => {});
  const path = join(dir, 'plan.json');
  try {
    await writeFile(path, json, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    await dispose();
    throw err;
  }
  return { path, dispose };
}
