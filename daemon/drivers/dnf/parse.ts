/**
 * Pure parsers for dnf output (C locale). The updateinfo list, check and needs-restarting formats
 * are the same in yum, whose driver imports them from here. Names read from the guest are checked
 * with the package-name rule; a line that does not parse is skipped, never guessed at.
 */
import type { ExecResult } from '../../core/exec.js';
import { isValidPackageName } from '../../core/validate.js';
import type { LockHolder } from './lock.js';
import { parseNevra, parseRpmLock } from './rpm.js';
import type { ListedPackage } from './table.js';

/** `repoquery --qf '%{name}\t%{arch}\t%{evr}\t%{repoid}'` lines. */
export function parseRepoquery(stdout: string): ListedPackage[] {
  const list: ListedPackage[] = [];
  for (const line of stdout.split('\n')) {
    const [name, arch, evr, repository] = line.split('\t');
    if (name && arch && evr && repository && isValidPackageName(name)) list.push({ name, arch, evr, repository });
  }
  return list;
}

/** FEDORA-2026-1a2b3c, RHSA-2014:1031, ALSA-2023:1234 … */
const ADVISORY_ID = /^[A-Za-z0-9][\w.:-]*$/;
/** `Important/Sec.`, `security`, `bugfix`, `enhancement`, `newpackage`, `unknown`. */
const ADVISORY_TYPE = /^([A-Za-z]+\/Sec\.|[a-z]+)$/;

export interface Advisory {
  id: string;
  /** `Important/Sec.`, `security`, `bugfix`, `enhancement`… */
  type: string;
  security: boolean;
  name: string;
  evr: string;
}

/**
 * `updateinfo list` lines, `ID TYPE NEVRA` (dnf 4 and yum 3.4.3 share the format; `--all`/`all`
 * adds an `i ` mark, `-v` a date). A security advisory's type is `<Severity>/Sec.` or, without a
 * severity, `security` (yum) / `Unknown/Sec.` (dnf).
 */
export function parseUpdateinfoList(stdout: string): Advisory[] {
  const list: Advisory[] = [];
  for (const line of stdout.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'i' && fields.length >= 4) fields.shift();
    const [id, type, nevra] = fields;
    const pkg = nevra ? parseNevra(nevra) : null;
    if (!id || !type || !pkg || !ADVISORY_ID.test(id) || !ADVISORY_TYPE.test(type)) continue;
    list.push({ id, type, security: type.endsWith('/Sec.') || type === 'security', name: pkg.name, evr: pkg.evr });
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

/**
 * A lock failure in dnf output: its own pid-file locks (with `exit_on_lock`: "RPMDB already locked
 * by 1234" and "  The application with PID 1234 is: dnf", exit 200) or rpm's transaction lock
 * ("can't create transaction lock on /var/lib/rpm/.rpm.lock (Resource temporarily unavailable)").
 */
export function parseDnfLock(output: string): LockHolder | null {
  const own = /^(\S+) already locked by (\d+)\s*$/m.exec(output);
  if (own?.[1] && own[2]) {
    const pid = Number(own[2]);
    const name = new RegExp(`The application with PID ${pid} is: (.+)$`, 'm').exec(output)?.[1]?.trim() ?? null;
    return { kind: 'dnf lock', lock: DNF_LOCK_FILES[own[1]] ?? own[1], pid, process: name };
  }
  const rpmLock = parseRpmLock(output);
  return rpmLock ? { kind: 'rpm transaction lock', lock: rpmLock, pid: null, process: null } : null;
}

/**
 * `dnf check` / `yum check`: one problem per line on stdout ("demo-app-1.0-1.noarch has missing
 * requires of demo-lib >= 1.0"); the closing "Error: Check discovered N problem(s)" is stderr.
 */
export function parseCheck(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

export interface RebootHint {
  required: boolean;
  /** The core packages it names (`  * kernel` in dnf, `  kernel -> 3.10.0-…` in yum-utils). */
  packages: string[];
}

/**
 * `needs-restarting -r` (dnf-plugins-core and yum-utils): exit 1 with "Reboot is required…", or
 * exit 0 with "Reboot should not be necessary." / "Reboot is probably not necessary.". Anything
 * else (no such command, an old version without -r, a lock) is null: no answer.
 */
export function parseRebootHint(res: ExecResult): RebootHint | null {
  if (res.exitCode === 0 && /Reboot (should not be|is probably not) necessary/.test(res.stdout)) {
    return { required: false, packages: [] };
  }
  if (res.exitCode !== 1 || !/Reboot is required/.test(res.stdout)) return null;
  const packages = new Set<string>();
  for (const line of res.stdout.split('\n')) {
    const name = /^\s+(?:\*\s+)?(\S+)(?:\s+->.*)?$/.exec(line)?.[1];
    if (name && isValidPackageName(name)) packages.add(name);
  }
  return { required: true, packages: [...packages] };
}

/** systemd unit names as `needs-restarting -s` prints them, one per line. */
export function parseServices(stdout: string): string[] {
  const units = new Set<string>();
  for (const line of stdout.split('\n')) {
    const unit = line.trim();
    if (/^[A-Za-z0-9:_.@\\-]+\.service$/.test(unit)) units.add(unit);
  }
  return [...units].sort();
}
