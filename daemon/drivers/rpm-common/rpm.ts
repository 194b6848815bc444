/**
 * Logic over installed rpm packages that the dnf and yum drivers share: the newest version per
 * name, what changed, kernel packages and whether the running kernel is outdated.
 */
import { diffVersions } from '../shared/versions.js';
import type { ChangedPackage } from '../types.js';
import type { InstalledRpm } from './parse.js';
import { compareEvr } from './rpmvercmp.js';

/** name → highest installed `[E:]V-R` (install-only packages such as kernels have several). */
export function newestByName(list: readonly InstalledRpm[]): Map<string, string> {
  const newest = new Map<string, string>();
  for (const p of list) {
    const seen = newest.get(p.name);
    if (seen === undefined || compareEvr(p.evr, seen) > 0) newest.set(p.name, p.evr);
  }
  return newest;
}

/** Packages whose newest installed version changed; null stands for "not installed". */
export function diffInstalled(before: readonly InstalledRpm[], after: readonly InstalledRpm[]): ChangedPackage[] {
  return diffVersions(newestByName(before), newestByName(after));
}

const NOT_BOOTED = [
  'headers',
  'devel',
  'tools',
  'doc',
  'srpm-macros',
  'rpm-macros',
  'abi-',
  'cross-',
  'debuginfo',
  'debug-devel',
];

/**
 * Packages whose update means a new kernel to boot: `kernel`, `kernel-core` and the other
 * `kernel-*` boot packages (modules, uek, rt, debug…), but not headers, devel files or tools,
 * which a running system never loads.
 */
export function isKernelPackage(name: string): boolean {
  if (name === 'kernel') return true;
  if (!name.startsWith('kernel-')) return false;
  const rest = name.slice('kernel-'.length);
  return !NOT_BOOTED.some((p) => rest.startsWith(p));
}

/**
 * Whether the running kernel (`uname -r`, e.g. `5.14.0-427.el9.x86_64`) is an installed kernel
 * package that has a newer sibling. null when the running kernel is none of the installed ones:
 * an LXC container runs the host's kernel, and a VM may boot a kernel rpm does not know.
 */
export function runningKernelCheck(
  installed: readonly InstalledRpm[],
  uname: string,
): { outdated: boolean; packages: string[] } | null {
  const running = uname.trim();
  const kernels = installed.filter((p) => isKernelPackage(p.name));
  const match = kernels.find((p) => `${withoutEpoch(p.evr)}.${p.arch}` === running);
  if (!match) return null;
  const newer = kernels.some((p) => p.name === match.name && compareEvr(p.evr, match.evr) > 0);
  return { outdated: newer, packages: newer ? [match.name] : [] };
}

function withoutEpoch(evr: string): string {
  const colon = evr.indexOf(':');
  return colon >= 0 ? evr.slice(colon + 1) : evr;
}
