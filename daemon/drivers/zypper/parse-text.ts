/**
 * Pure parsers for zypper's and rpm's plain-text output (C locale): installed versions, lock
 * holders, failure causes, `zypper ps`, config files left by rpm.
 */
import { isValidPackageName } from '../../core/validate.js';
import type { LockHolder } from '../shared/lock-wait.js';
import { isDigits, lineAfter } from '../shared/parse.js';
import { messages, parseXml } from './xml.js';

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

/** Kernel flavour packages (not -devel, -source, -firmware…): changing one means the guest should reboot. */
const KERNEL = /^kernel-(default|default-base|preempt|rt|azure|64kb|kvmsmall|pae|vanilla|lpae|zfcpdump|longterm)$/;

export function isKernelPackage(name: string): boolean {
  return KERNEL.test(name);
}

const LOCKED = 'System management is locked by the application with pid ';

/** zypp's lock file (libzypp's ZYPP_LOCKFILE_ROOT default). */
export const ZYPP_LOCK = '/run/zypp.pid';

/**
 * "System management is locked by the application with pid 5332 (sleep)." in text or XML output;
 * the holder (pid unknown when zypper did not say), always a 'zypp lock'.
 */
export function parseLockHolder(stdout: string, stderr = ''): LockHolder {
  for (const text of [stdout, stderr]) {
    const at = text.indexOf(LOCKED);
    if (at < 0) continue;
    const rest = text.slice(at + LOCKED.length, text.indexOf('\n', at) < 0 ? text.length : text.indexOf('\n', at));
    const space = rest.indexOf(' ');
    const pid = rest.slice(0, space < 0 ? rest.length : space);
    const open = rest.indexOf('(');
    const close = rest.lastIndexOf(')');
    const process = open >= 0 && close > open ? rest.slice(open + 1, close) : null;
    if (isDigits(pid, 10)) return { kind: 'zypp lock', lock: ZYPP_LOCK, pid: Number(pid), process };
  }
  return { kind: 'zypp lock', lock: ZYPP_LOCK, pid: null, process: null };
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
  const xmlError = messages(parseXml(stdout), 'error')[0];
  if (xmlError) return oneLine(xmlError);
  const problem = lineAfter(stdout, 'Problem: ') ?? lineAfter(stderr, 'Problem: ');
  if (problem) return `Problem: ${problem}`.trim();
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
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}

/** `zypper removelock`: "2 locks have been successfully removed." / "No lock has been removed." → count. */
export function parseRemovedLocks(stdout: string): number | null {
  if (/^No lock has been removed\./m.test(stdout)) return 0;
  const m = /^(\d+) locks? (?:has|have) been successfully removed\./m.exec(stdout);
  return m?.[1] ? Number(m[1]) : null;
}
