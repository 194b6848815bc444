/**
 * Does the running kernel match the installed Alpine kernel package? Pure functions over
 * `uname -r` and `apk info -v` versions. Alpine names a release `<version>-<pkgrel>-<flavour>`:
 * linux-lts 6.6.58-r0 boots as 6.6.58-0-lts, linux-virt 6.6.58-r0 as 6.6.58-0-virt.
 *
 * Only a running kernel of an Alpine flavour is compared, and only with that flavour's package,
 * so a container (whose running kernel is the Proxmox host's, e.g. 6.8.12-4-pve) is never flagged
 * forever. Packages named linux-* that are not kernels (linux-firmware*, linux-headers,
 * linux-pam, linux-tools*) are not in the list.
 */

import type { KernelNaming } from '../shared/kernel.js';

export const KERNEL_FLAVOURS = ['lts', 'virt', 'edge', 'stable', 'rpi', 'rpi2', 'rpi4', 'vanilla', 'hardened'] as const;

const KERNELS: ReadonlySet<string> = new Set(KERNEL_FLAVOURS.map((f) => `linux-${f}`));

export function isKernelPackage(name: string): boolean {
  return KERNELS.has(name);
}

/** The `uname -r` an installed kernel package boots as; null for another package or an odd version. */
export function kernelRelease(pkg: string, version: string): string | null {
  const m = /^(\d+\.\d+(?:\.\d+)?)-r(\d+)$/.exec(version);
  if (!isKernelPackage(pkg) || !m?.[1] || !m[2]) return null;
  const numbers = m[1].split('.');
  while (numbers.length < 3) numbers.push('0');
  return `${numbers.join('.')}-${m[2]}-${pkg.slice('linux-'.length)}`;
}

/** Which Alpine kernel package a running release belongs to, or null (LXC host kernel, custom kernel). */
export function runningKernelPackage(release: string): string | null {
  const flavour = /^\d+\.\d+\.\d+-\d+-([a-z0-9]+)$/.exec(release)?.[1];
  return flavour && isKernelPackage(`linux-${flavour}`) ? `linux-${flavour}` : null;
}

/** How Alpine kernel packages name their releases (see the module comment). */
export const alpineKernels: KernelNaming = {
  what: 'an Alpine kernel',
  runningPackage: runningKernelPackage,
  release: kernelRelease,
  isKernelPackage,
};
