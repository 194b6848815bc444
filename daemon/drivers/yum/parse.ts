/**
 * Pure parsers for yum 3.4.3 output (C locale). The formats yum shares with dnf (updateinfo
 * lists, check, needs-restarting, transaction tables) are parsed by the dnf driver's modules.
 */
import type { ExecResult } from '../../core/exec.js';
import type { LockHolder } from '../dnf/lock.js';
import { parseRpmLock } from '../dnf/rpm.js';
import { failureCause } from '../dnf/run.js';
import { type ListedPackage, parsePackageColumns } from '../dnf/table.js';

/**
 * `yum check-update` rows (`name.arch  [E:]V-R  repo`, long values wrapped onto indented lines),
 * up to "Obsoleting Packages"; plugin chatter ("Loaded plugins: …", mirror lists, "Security: …
 * is an installed security update") is skipped.
 */
export function parseCheckUpdate(stdout: string): ListedPackage[] {
  return parsePackageColumns(stdout);
}

/**
 * A lock failure: yum's own ("Existing lock /var/run/yum.pid: another copy is running as pid
 * 2990.", with "  The other application is: yum" when it waited) or rpm's transaction lock.
 */
export function parseYumLock(output: string): LockHolder | null {
  const own = /Existing lock (\S+): another copy is running as pid (\d+)\./.exec(output);
  if (own?.[1] && own[2]) {
    const name = /^\s*The other application is: (.+)$/m.exec(output)?.[1]?.trim() ?? null;
    return { kind: 'yum lock', lock: own[1], pid: Number(own[2]), process: name };
  }
  const rpmLock = parseRpmLock(output);
  return rpmLock ? { kind: 'rpm transaction lock', lock: rpmLock, pid: null, process: null } : null;
}

/**
 * yum's reason for a failure: an `Error:` line (with its indented continuation, e.g. the
 * `Requires:` of a dependency problem), else a repository failure ("Cannot retrieve repository
 * metadata …", "failure: … No more mirrors to try."), else the first stderr line.
 */
export function yumFailureCause(res: ExecResult): string {
  const output = `${res.stdout}\n${res.stderr}`;
  const error = /^Error: (.+)\n((?:[ \t]+\S.*\n?)*)/m.exec(output);
  if (error?.[1]) {
    const more = (error[2] ?? '').split('\n').find((l) => l.trim().length > 0);
    return more ? `${error[1].trim()} ${more.trim()}` : error[1].trim();
  }
  const repo = /^\s*((?:Cannot retrieve |failure: ).+)$/m.exec(output)?.[1];
  return repo?.trim() ?? failureCause(res);
}
