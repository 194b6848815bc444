/**
 * Config files a package manager left beside (or instead of) the admin's: `.dpkg-dist`,
 * `.rpmnew`, `.pacnew`… The manager gives extracted files the archive's mtime, but its rename sets
 * the ctime, so a listing before and after the upgrade tells which ones this run made.
 */
import type { DriverContext } from '../types.js';
import { parseConffiles } from './parse.js';

/** `find /etc -xdev ( -name *.a -o -name *.b ) -printf '%p\t%C@\n'` for the given suffixes. */
export function conffilesCommand(suffixes: readonly string[]): string[] {
  const names = suffixes.flatMap((s, i) => [...(i > 0 ? ['-o'] : []), '-name', `*${s}`]);
  return ['find', '/etc', '-xdev', '(', ...names, ')', '-printf', '%p\\t%C@\\n'];
}

/** The listing with ctimes; find's exit 1 (an unreadable dir) still lists the rest. */
export async function readConffiles(ctx: DriverContext, suffixes: readonly string[]): Promise<Map<string, string>> {
  return parseConffiles((await ctx.exec.run(conffilesCommand(suffixes))).stdout);
}

/** Files present after the run that were absent before or were written again (new ctime), sorted. */
export function newConffiles(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  return [...after]
    .filter(([path, ctime]) => before.get(path) !== ctime)
    .map(([path]) => path)
    .sort();
}
