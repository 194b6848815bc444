/**
 * Does the running kernel match the installed Arch kernel package? Pure functions over
 * `uname -r` and `pacman -Q` versions.
 *
 * Arch's kernel packages name their release like this (pkgver-pkgrel → `uname -r`):
 *   linux           6.2.0.arch1-1 or 6.2.arch1-1 → 6.2.0-arch1-1
 *   linux-lts       6.1.20-1                      → 6.1.20-1-lts
 *   linux-zen       6.2.8.zen1-1                  → 6.2.8-zen1-1-zen
 *   linux-hardened  6.2.8.hardened1-1             → 6.2.8-hardened1-1-hardened
 * (a `.0` patch level is dropped from pkgver but present in the release).
 *
 * The rule, chosen so that a container is never flagged forever: only a running kernel whose
 * release has an Arch flavour's shape is compared, and only with the installed package of that
 * flavour. In an LXC container the running kernel is the Proxmox host's (`6.8.12-4-pve`), which
 * has no Arch shape, so the comparison is skipped; a container's own `linux` package (if any)
 * is never booted. A custom or foreign kernel on a VM is skipped the same way.
 */

import type { KernelNaming } from '../shared/kernel.js';

const FLAVOUR_SUFFIX: Readonly<Record<string, string>> = {
  linux: '',
  'linux-lts': '-lts',
  'linux-zen': '-zen',
  'linux-hardened': '-hardened',
};

/** The `uname -r` an installed kernel package boots as; null for another package or an odd version. */
export function kernelRelease(pkg: string, version: string): string | null {
  const suffix = FLAVOUR_SUFFIX[pkg];
  const m = /^(?:\d+:)?(\d+(?:\.\d+)*)(?:\.([a-z][a-z0-9]*))?-(\d+)$/.exec(version);
  if (suffix === undefined || !m?.[1] || !m[3]) return null;
  const numbers = m[1].split('.');
  while (numbers.length < 3) numbers.push('0');
  const tag = m[2] ? `-${m[2]}` : '';
  return `${numbers.join('.')}${tag}-${m[3]}${suffix}`;
}

/** Which Arch kernel package a running release belongs to, or null for a foreign kernel (LXC host, custom). */
export function runningKernelPackage(release: string): string | null {
  if (/^\d+\.\d+\.\d+-arch\d+-\d+$/.test(release)) return 'linux';
  if (/^\d+\.\d+\.\d+-\d+-lts$/.test(release)) return 'linux-lts';
  if (/^\d+\.\d+\.\d+-zen\d+-\d+-zen$/.test(release)) return 'linux-zen';
  if (/^\d+\.\d+\.\d+-hardened\d+-\d+-hardened$/.test(release)) return 'linux-hardened';
  return null;
}

/** How Arch kernel packages name their releases (see the module comment). */
export const archKernels: KernelNaming = {
  what: 'an Arch kernel',
  runningPackage: runningKernelPackage,
  release: kernelRelease,
  isKernelPackage: (name) => Object.hasOwn(FLAVOUR_SUFFIX, name),
};
