/**
 * Pure parsers for what only yum 3.4.3 prints (C locale); the formats it shares with dnf
 * (updateinfo lists, check, needs-restarting, transaction tables, check-update columns) are
 * parsed in ../rpm-common/. Linear in their input.
 */

import { failureCause, parseRpmLock } from '../rpm-common/parse.js';
import type { LockHolder } from '../shared/lock-wait.js';
import { isDigits, lineAfter } from '../shared/parse.js';

const EXISTING_LOCK = 'Existing lock ';
const ANOTHER_COPY = ': another copy is running as pid ';

/**
 * A lock failure: yum's own ("Existing lock /var/run/yum.pid: another copy is running as pid
 * 2990.", with "  The other application is: yum" when it waited) or rpm's transaction lock.
 */
export function parseYumLock(output: string): LockHolder | null {
  for (const line of output.split('\n')) {
    const at = line.indexOf(EXISTING_LOCK);
    const copy = at < 0 ? -1 : line.indexOf(ANOTHER_COPY, at);
    if (copy < 0) continue;
    const lock = line.slice(at + EXISTING_LOCK.length, copy);
    const rest = line.slice(copy + ANOTHER_COPY.length).trim();
    const pid = rest.endsWith('.') ? rest.slice(0, -1) : rest;
    if (lock.includes(' ') || !isDigits(pid, 10)) continue;
    const name = lineAfter(output, '  The other application is: ')?.trim() || null;
    return { kind: 'yum lock', lock, pid: Number(pid), process: name };
  }
  const rpmLock = parseRpmLock(output);
  return rpmLock ? { kind: 'rpm transaction lock', lock: rpmLock, pid: null, process: null } : null;
}

const REPO_FAILURES = ['Cannot retrieve ', 'failure: '];

/**
 * yum's reason for a failure: an `Error:` line (with the first line of its indented continuation,
 * e.g. the `Requires:` of a dependency problem), else a repository failure ("Cannot retrieve
 * repository metadata …", "failure: … No more mirrors to try."), else the shared cause.
 */
export function yumFailureCause(stdout: string, stderr = ''): string | null {
  const lines = `${stdout}\n${stderr}`.split('\n');
  const at = lines.findIndex((l) => l.startsWith('Error: ') && l.trim().length > 'Error:'.length);
  if (at >= 0) {
    const first = lines[at]!.slice('Error: '.length).trim();
    const next = lines[at + 1] ?? '';
    const more = (next.startsWith(' ') || next.startsWith('\t')) && next.trim() !== '' ? ` ${next.trim()}` : '';
    return `${first}${more}`;
  }
  const repo = lines.map((l) => l.trim()).find((l) => REPO_FAILURES.some((p) => l.startsWith(p)));
  return repo ?? failureCause(stdout, stderr);
}

/** yum's answer to a command or option it does not have (an updateinfo without its plugin). */
export function isUnknownCommand(output: string): boolean {
  const lower = output.toLowerCase();
  return lower.includes('no such command') || lower.includes('no such option');
}
