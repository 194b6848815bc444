import type { ChangedPackage } from '../types.js';

/** Packages whose installed version differs; null stands for "not installed" on either side. */
export function diffVersions(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): ChangedPackage[] {
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  return names
    .map((name) => ({ package: name, before: before.get(name) ?? null, after: after.get(name) ?? null }))
    .filter((c) => c.before !== c.after);
}

/** Changed packages whose new version is installed and that `isKernel` names (the reboot reasons). */
export function changedKernels(changed: readonly ChangedPackage[], isKernel: (name: string) => boolean): string[] {
  return changed.filter((c) => c.after !== null && isKernel(c.package)).map((c) => c.package);
}
