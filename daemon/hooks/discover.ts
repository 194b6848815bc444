/**
 * Finds the hooks of one phase: the files of `<dir>/<phase>.d/` in byte order of their names.
 * Refused (a warning; never run): a hook, or its `<phase>.d` or `<dir>`, that is not owned by root or
 * is group- or world-writable. Skipped (logged only): hidden and backup/package-manager leftover
 * names, anything that is not a regular file, and files without an execute bit. A symlink is
 * followed only when its target passes the same checks as a hook and the target's directory the
 * same checks as `<phase>.d`; the checked target is what runs. A missing `<phase>.d` costs one
 * readdir and means no hooks.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { shown } from './text.js';
import type { HookPhase } from './types.js';

/** Names that are editor backups, package-manager leftovers or notes, never hooks. */
export const SKIPPED_SUFFIXES = [
  '~',
  '.dpkg-old',
  '.dpkg-dist',
  '.dpkg-new',
  '.dpkg-tmp',
  '.ucf-old',
  '.ucf-dist',
  '.ucf-new',
  '.swp',
  '.disabled',
  '.md',
] as const;

export interface HookEntry {
  /** `<phase>.d/<file name>`. */
  hook: string;
  /** The file's path inside `<phase>.d`. */
  path: string;
  /** What to execute: `path`, or the checked target of a symlink. */
  run: string;
  status: 'run' | 'refused' | 'skipped';
  reason?: string;
}

function nameSkip(name: string): string | undefined {
  if (name.startsWith('.')) return 'hidden file';
  const suffix = SKIPPED_SUFFIXES.find((s) => name.endsWith(s));
  return suffix === undefined ? undefined : `'${suffix}' file`;
}

/** Why a file or directory may not be trusted to run as root, or undefined. */
export function permissionProblem(st: Pick<Stats, 'uid' | 'mode'>): string | undefined {
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  if (st.uid !== 0) return `owned by uid ${st.uid}, not root`;
  if (st.mode & 0o002) return `world-writable (mode ${mode})`;
  if (st.mode & 0o020) return `group-writable (mode ${mode})`;
  return undefined;
}

async function dirProblem(path: string): Promise<string | undefined> {
  try {
    const why = permissionProblem(await stat(path));
    return why === undefined ? undefined : `directory ${shown(path)} is ${why}`;
  } catch (err) {
    return `unable to check directory ${shown(path)} - ${shown(errorMessage(err))}`;
  }
}

type Check = Pick<HookEntry, 'run' | 'status' | 'reason'>;

/** lstat, and for a symlink the target and its directory; then type, owner, mode, execute bit. */
async function checkFile(path: string): Promise<Check> {
  let st = await lstat(path);
  let run = path;
  let what = '';
  if (st.isSymbolicLink()) {
    run = await realpath(path);
    st = await stat(run);
    what = `symlink target ${shown(run)} is `;
    const dir = await dirProblem(dirname(run));
    if (dir !== undefined) return { run, status: 'refused', reason: `symlink target in ${dir}` };
  }
  if (!st.isFile()) return { run, status: 'skipped', reason: `${what}not a regular file` };
  const why = permissionProblem(st);
  if (why !== undefined) return { run, status: 'refused', reason: `${what}${why}` };
  if ((st.mode & 0o111) === 0) return { run, status: 'skipped', reason: `${what}not executable` };
  return { run, status: 'run' };
}

function byteOrder(names: string[]): string[] {
  const keyed = names.map((name) => ({ name, key: Buffer.from(name) }));
  return keyed.sort((a, b) => Buffer.compare(a.key, b.key)).map((k) => k.name);
}

/** Every entry of `<dir>/<phase>.d` with what to do about it, in byte order of the names. */
export async function scanHooks(dir: string, phase: HookPhase): Promise<HookEntry[]> {
  const phaseDir = join(dir, `${phase}.d`);
  let names: string[];
  try {
    names = await readdir(phaseDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    const reason = `unable to read directory - ${shown(errorMessage(err))}`;
    return [{ hook: `${phase}.d`, path: phaseDir, run: phaseDir, status: 'refused', reason }];
  }
  const badDir = names.length === 0 ? undefined : ((await dirProblem(dir)) ?? (await dirProblem(phaseDir)));
  const entries: HookEntry[] = [];
  for (const name of byteOrder(names)) {
    const path = join(phaseDir, name);
    const base = { hook: `${phase}.d/${name}`, path, run: path };
    const skip = nameSkip(name);
    if (skip !== undefined) entries.push({ ...base, status: 'skipped', reason: skip });
    else if (badDir !== undefined) entries.push({ ...base, status: 'refused', reason: badDir });
    else entries.push({ ...base, ...(await checkFile(path).catch(unreadable)) });
  }
  return entries;
}

function unreadable(err: unknown): Check {
  return { run: '', status: 'refused', reason: `unable to check - ${shown(errorMessage(err))}` };
}

/** The hooks a phase would run (paths inside `<phase>.d`), and those refused or skipped, with why. */
export async function listHooks(
  dir: string,
  phase: HookPhase,
): Promise<{
  hooks: string[];
  refused: { hook: string; reason: string }[];
  skipped: { hook: string; reason: string }[];
}> {
  const entries = await scanHooks(dir, phase);
  const pick = (status: HookEntry['status']) =>
    entries.filter((e) => e.status === status).map((e) => ({ hook: e.hook, reason: e.reason ?? '' }));
  return {
    hooks: entries.filter((e) => e.status === 'run').map((e) => e.path),
    refused: pick('refused'),
    skipped: pick('skipped'),
  };
}
