/**
 * Pure parsers for what only dnf prints (C locale); the formats dnf shares with yum are parsed in
 * ../rpm-common/. Linear in their input; names are checked with the package-name rule.
 */
import { isValidPackageName } from '../../core/validate.js';
import { parseRpmLock } from '../rpm-common/parse.js';
import type { ListedPackage } from '../rpm-common/parse-table.js';
import type { LockHolder } from '../shared/lock-wait.js';
import { isDigits, lineAfter } from '../shared/parse.js';

/** `repoquery --qf '%{name}\t%{arch}\t%{evr}\t%{repoid}'` lines. */
export function parseRepoquery(stdout: string): ListedPackage[] {
  const list: ListedPackage[] = [];
  for (const line of stdout.split('\n')) {
    const [name, arch, evr, repository] = line.split('\t', 4);
    if (name && arch && evr && repository && isValidPackageName(name)) list.push({ name, arch, evr, repository });
  }
  return list;
}

/** Where dnf 4 keeps the pid files behind its lock descriptions (`RPMDB already locked by N`). */
export const DNF_LOCK_FILES: Readonly<Record<string, string>> = {
  RPMDB: '/var/lib/dnf/rpmdb_lock.pid',
  metadata: '/var/cache/dnf/metadata_lock.pid',
  cachedir: '/var/cache/dnf/download_lock.pid',
  log: '/var/log/log_lock.pid',
};

const ALREADY_LOCKED = ' already locked by ';

/**
 * A lock failure in dnf output: its own pid-file locks (with `exit_on_lock`: "RPMDB already locked
 * by 1234" and "  The application with PID 1234 is: dnf", exit 200) or rpm's transaction lock
 * ("can't create transaction lock on /var/lib/rpm/.rpm.lock (Resource temporarily unavailable)").
 */
export function parseDnfLock(output: string): LockHolder | null {
  for (const line of output.split('\n')) {
    const at = line.indexOf(ALREADY_LOCKED);
    if (at <= 0) continue;
    const what = line.slice(0, at);
    const pid = line.slice(at + ALREADY_LOCKED.length).trim();
    if (what.includes(' ') || !isDigits(pid, 10)) continue;
    const name = lineAfter(output, `  The application with PID ${pid} is: `)?.trim() || null;
    return { kind: 'dnf lock', lock: DNF_LOCK_FILES[what] ?? what, pid: Number(pid), process: name };
  }
  const rpmLock = parseRpmLock(output);
  return rpmLock ? { kind: 'rpm transaction lock', lock: rpmLock, pid: null, process: null } : null;
}
