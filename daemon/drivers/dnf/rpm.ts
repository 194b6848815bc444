/**
 * The rpm level that dnf and yum guests share: argv builders and pure parsers for the installed
 * package list, NEVRA strings, kernel packages, rpm's transaction lock and left-behind config
 * files. The yum driver imports these from here.
 */
import { isValidPackageName } from '../../core/validate.js';
import type { ChangedPackage } from '../types.js';
import { compareEvr } from './rpmvercmp.js';

/** Debian-style flag the lab's demo packages (and some admins' own scriptlets) create. */
export const REBOOT_REQUIRED_FILE = '/run/reboot-required';
export const REBOOT_PACKAGES_FILE = '/run/reboot-required.pkgs';

export interface InstalledRpm {
  name: string;
  arch: string;
  /** `[E:]V-R`, the epoch only when it is set (as dnf and yum print versions). */
  evr: string;
}

/** One line per installed package: name, arch, `[E:]V-R`, tab-separated. */
export function installedCommand(): string[] {
  return [
    'env',
    'LC_ALL=C',
    'rpm',
    '-qa',
    '--qf',
    '%{NAME}\\t%{ARCH}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n',
  ];
}

/** Verifies the rpm database; rpm >= 4.14 takes a read lock for it, so a running transaction shows. */
export function verifyDbCommand(): string[] {
  return ['env', 'LC_ALL=C', 'rpm', '--verifydb'];
}

export function unameCommand(): string[] {
  return ['uname', '-r'];
}

/** `.rpmnew` (package's version beside the kept edit) and `.rpmsave` (edit saved aside) with ctimes. */
export function conffilesCommand(): string[] {
  return ['find', '/etc', '-xdev', '(', '-name', '*.rpmnew', '-o', '-name', '*.rpmsave', ')', '-printf', '%p\\t%C@\\n'];
}

/** `path:pid` for each pid file that exists; `-s` keeps missing files quiet. */
export function pidFilesCommand(files: readonly string[]): string[] {
  return ['grep', '-s', '-H', '', ...files];
}

/** The command name of a process, which also tells whether it still runs. */
export function processNameCommand(pid: number): string[] {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`invalid pid ${pid}`);
  return ['cat', `/proc/${pid}/comm`];
}

export function readFileCommand(path: string): string[] {
  return ['cat', path];
}

export function existsCommand(path: string): string[] {
  return ['test', '-e', path];
}

/** Parses `installedCommand` output; gpg-pubkey pseudo-packages and invalid names are left out. */
export function parseInstalled(stdout: string): InstalledRpm[] {
  const list: InstalledRpm[] = [];
  for (const line of stdout.split('\n')) {
    const [name, arch, evr] = line.split('\t');
    if (!name || !arch || !evr || name === 'gpg-pubkey' || !isValidPackageName(name)) continue;
    list.push({ name, arch, evr });
  }
  return list;
}

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
  const b = newestByName(before);
  const a = newestByName(after);
  const names = [...new Set([...b.keys(), ...a.keys()])].sort();
  return names
    .map((name) => ({ package: name, before: b.get(name) ?? null, after: a.get(name) ?? null }))
    .filter((c) => c.before !== c.after);
}

export interface Nevra {
  name: string;
  evr: string;
  arch: string;
}

/** `name-[E:]V-R.arch` as dnf and yum print packages (updateinfo lists, check output). */
export function parseNevra(text: string): Nevra | null {
  const m = /^(.+)-((?:\d+:)?[^-:\s]+-[^-:\s]+)\.([A-Za-z0-9_]+)$/.exec(text);
  if (!m?.[1] || !m[2] || !m[3] || !isValidPackageName(m[1])) return null;
  return { name: m[1], evr: m[2], arch: m[3] };
}

/**
 * Packages whose update means a new kernel to boot: `kernel`, `kernel-core` and the other
 * `kernel-*` boot packages (modules, uek, rt, debug…), but not headers, devel files or tools,
 * which a running system never loads.
 */
export function isKernelPackage(name: string): boolean {
  if (name === 'kernel') return true;
  if (!name.startsWith('kernel-')) return false;
  return !/^kernel-(headers|devel|tools|doc|srpm-macros|rpm-macros|abi-|cross-|debuginfo|debug-devel)/.test(name);
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
  const match = kernels.find((p) => `${p.evr.replace(/^\d+:/, '')}.${p.arch}` === running);
  if (!match) return null;
  const newer = kernels.some((p) => p.name === match.name && compareEvr(p.evr, match.evr) > 0);
  return { outdated: newer, packages: newer ? [match.name] : [] };
}

/** rpm's "can't create transaction lock on FILE (reason)"; null when absent. */
export function parseRpmLock(output: string): string | null {
  return /can't create transaction lock on (\S+)/.exec(output)?.[1] ?? null;
}

/** `find … -printf '%p\t%C@\n'` → path → ctime (seconds, as printed). */
export function parseConffiles(stdout: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const tab = line.lastIndexOf('\t');
    if (tab > 0) files.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return files;
}

/**
 * Files present after the run that were absent before or written again. rpm gives extracted files
 * the package's mtime, so only the ctime tells which ones this run made.
 */
export function newConffiles(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after]
    .filter(([path, ctime]) => before.get(path) !== ctime)
    .map(([path]) => path)
    .sort();
}

/** One name per line (`/run/reboot-required.pkgs`), unique, invalid names dropped. */
export function parseNameList(stdout: string): string[] {
  const names = new Set<string>();
  for (const line of stdout.split('\n')) {
    const name = line.trim();
    if (isValidPackageName(name)) names.add(name);
  }
  return [...names];
}

/** `grep -s -H '' FILE…` → the pids in dnf/yum pid files (`/var/run/yum.pid:1234`). */
export function parsePidFiles(stdout: string): Array<{ file: string; pid: number }> {
  const found: Array<{ file: string; pid: number }> = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\/[^:]+):\s*(\d+)\s*$/.exec(line);
    if (m?.[1] && m[2]) found.push({ file: m[1], pid: Number(m[2]) });
  }
  return found;
}
