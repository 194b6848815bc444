/**
 * Pure parsers for zypper's and rpm's plain-text output (C locale): installed versions, lock
 * holders, failure causes, `zypper ps`, config files left by rpm.
 */
import { isValidPackageName } from '../../core/validate.js';
import type { ChangedPackage } from '../types.js';
import { messages } from './xml.js';

/**
 * `rpm -qa --qf '%{NAME}\t[E:]V-R\t%{INSTALLTIME}\n'` → name → version. A name installed in
 * several versions (multiversion kernels, gpg-pubkey) maps to the most recently installed one.
 */
export function parseRpmVersions(stdout: string): Map<string, string> {
  const newest = new Map<string, { version: string; time: number }>();
  for (const line of stdout.split('\n')) {
    const [name, version, time] = line.split('\t');
    if (!name || !version || !isValidPackageName(name)) continue;
    const t = Number(time ?? 0) || 0;
    const seen = newest.get(name);
    if (!seen || t >= seen.time) newest.set(name, { version, time: t });
  }
  return new Map([...newest].map(([name, v]) => [name, v.version]));
}

/** Packages whose installed version differs; null stands for "not installed" on either side. */
export function diffVersions(before: Map<string, string>, after: Map<string, string>): ChangedPackage[] {
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  return names
    .map((name) => ({ package: name, before: before.get(name) ?? null, after: after.get(name) ?? null }))
    .filter((c) => c.before !== c.after);
}

/** Kernel flavour packages (not -devel, -source, -firmware…): changing one means the guest should reboot. */
const KERNEL = /^kernel-(default|default-base|preempt|rt|azure|64kb|kvmsmall|pae|vanilla|lpae|zfcpdump|longterm)$/;

export function isKernelPackage(name: string): boolean {
  return KERNEL.test(name);
}

export interface LockHolder {
  pid: number;
  /** What libzypp read from the holder's command line, e.g. `zypper`, `packagekitd`, `sleep`. */
  process: string;
}

const LOCKED = /System management is locked by the application with pid (\d+) \((.*)\)\.?/;

/** "System management is locked by the application with pid 5332 (sleep)." in text or XML output. */
export function parseLockHolder(stdout: string, stderr = ''): LockHolder | null {
  const text = [...messages(stdout, 'error'), stdout, stderr].join('\n');
  const m = LOCKED.exec(text);
  return m?.[1] ? { pid: Number(m[1]), process: m[2] ?? '' } : null;
}

/** "zypp lock is held by process 5332 (sleep)". */
export function describeLockHolder(holder: LockHolder | null): string {
  if (!holder) return 'the zypp lock is held by another process';
  return `zypp lock is held by process ${holder.pid}${holder.process ? ` (${holder.process})` : ''}`;
}

/** Lines zypper adds after every error; they say nothing about the cause. */
const BOILERPLATE = [
  /^Please see the above error message for a hint\.$/,
  /^Skipping repository '.*' because of the above error\.$/,
  /^Problem occurred during or after installation or removal of packages:$/,
  /^Installation has been aborted as directed\.$/,
];

/**
 * The cause of a failed zypper run, in one line: the XML error message, the solver's `Problem:`
 * line, rpm's first `error:` after "Installation of X failed:", or the first two meaningful
 * stderr lines (e.g. "Problem retrieving files from 'demo'. Specified path … is not a directory").
 */
export function zypperErrorText(stdout: string, stderr: string): string | null {
  const xmlError = messages(stdout, 'error')[0];
  if (xmlError) return oneLine(xmlError);
  const problem = /^Problem: (.+)$/m.exec(stdout)?.[0] ?? /^Problem: (.+)$/m.exec(stderr)?.[0];
  if (problem) return problem.trim();
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !BOILERPLATE.some((re) => re.test(l)));
  const install = lines.findIndex((l) => /^Installation of \S+ failed:$/.test(l));
  if (install >= 0) {
    const rpmError = lines.slice(install + 1).find((l) => l.startsWith('error: '));
    return rpmError ? `${lines[install]} ${rpmError}` : (lines[install] ?? null);
  }
  return lines.length > 0 ? lines.slice(0, 2).join(' ') : null;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** `zypper removelock`: "2 locks have been successfully removed." / "No lock has been removed." → count. */
export function parseRemovedLocks(stdout: string): number | null {
  if (/^No lock has been removed\./m.test(stdout)) return 0;
  const m = /^(\d+) locks? (?:has|have) been successfully removed\./m.exec(stdout);
  return m?.[1] ? Number(m[1]) : null;
}

/** `zypper ps -sss` and `/run/reboot-required.pkgs`: one name per line, unique, valid names only. */
export function parseNameLines(stdout: string): string[] {
  const names = new Set<string>();
  for (const line of stdout.split('\n')) {
    const name = line.trim();
    if (name && isValidPackageName(name)) names.add(name);
  }
  return [...names];
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

/** Files present after the run that were absent before or were written again (new ctime). */
export function newConffiles(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after].filter(([path, ctime]) => before.get(path) !== ctime).map(([path]) => path);
}
