/**
 * Pure parsers for apt/dpkg output (C locale). Names read from the guest are checked with the
 * package-name rule; a line that does not parse is reported, never guessed at.
 */
import { isValidPackageName } from '../../core/validate.js';
import type { ChangedPackage, PendingUpdate } from '../types.js';

export interface Simulation {
  updates: PendingUpdate[];
  /** Packages `dist-upgrade` would remove (`Remv` lines). */
  removals: string[];
  /** "The following packages have been kept back:" (held or blocked by dependencies). */
  keptBack: string[];
  /** From "N not fully installed or removed."; non-zero means a broken dpkg state. */
  notFullyInstalled: number;
  /** `Inst`/`Remv` lines that did not parse. */
  unparsed: string[];
}

/**
 * `Inst name [old] (new Origin:Version/suite[, Origin2…] [arch]) [trailing…]`; `[old]` is absent for
 * new installs, and an origin may be missing (`(1.0  [all])`). `name` may carry `:arch`.
 */
const INST = /^Inst (\S+)(?: \[([^\]]+)\])? \((\S+) (.*?) ?\[([^\]]+)\]\)(?: .*)?$/;
const REMV = /^Remv (\S+)(?: \[([^\]]+)\])?/;
const SECURITY = /-security|debian-security/i;

/** Strips the `:amd64` qualifier apt adds for foreign-architecture packages; null when invalid. */
export function packageName(raw: string): string | null {
  const name = raw.replace(/:[a-z0-9-]+$/, '');
  return isValidPackageName(name) ? name : null;
}

export function parseInstLine(line: string): PendingUpdate | null {
  const m = INST.exec(line);
  const name = m?.[1] === undefined ? null : packageName(m[1]);
  if (!m || !name) return null;
  const origins = (m[4] ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0);
  return {
    package: name,
    current_version: m[2] ?? null,
    new_version: m[3] ?? '',
    repository: origins[0] ?? '',
    security: origins.some((o) => SECURITY.test(o)),
  };
}

/** Parses the stdout of `apt-get -s dist-upgrade`. */
export function parseSimulation(stdout: string): Simulation {
  const sim: Simulation = { updates: [], removals: [], keptBack: [], notFullyInstalled: 0, unparsed: [] };
  const seen = new Set<string>();
  for (const line of stdout.split('\n')) {
    if (line.startsWith('Inst ')) {
      const update = parseInstLine(line);
      if (!update) sim.unparsed.push(line);
      else if (!seen.has(update.package)) {
        seen.add(update.package);
        sim.updates.push(update);
      }
    } else if (line.startsWith('Remv ')) {
      const name = packageName(REMV.exec(line)?.[1] ?? '');
      if (name) sim.removals.push(name);
      else sim.unparsed.push(line);
    }
  }
  sim.keptBack = parseIndentedList(stdout, 'The following packages have been kept back:');
  const broken = /^(\d+) not fully installed or removed\./m.exec(stdout);
  sim.notFullyInstalled = broken?.[1] ? Number(broken[1]) : 0;
  return sim;
}

/** The indented names that follow an apt heading line, up to the next unindented line. */
export function parseIndentedList(stdout: string, heading: string): string[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return [];
  const names: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith(' ')) break;
    for (const word of line.trim().split(/\s+/)) {
      const name = packageName(word);
      if (name) names.push(name);
    }
  }
  return names;
}

/** `apt-mark showhold`: one name per line. */
export function parseShowhold(stdout: string): string[] {
  return uniqueNames(stdout);
}

/** `/var/run/reboot-required.pkgs`: one name per line, repeated when several postinsts ask. */
export function parseRebootPkgs(stdout: string): string[] {
  return uniqueNames(stdout);
}

function uniqueNames(stdout: string): string[] {
  const names = new Set<string>();
  for (const line of stdout.split('\n')) {
    const name = packageName(line.trim());
    if (name) names.add(name);
  }
  return [...names];
}

/** dpkg states in which a version is on disk (not `n` not-installed, not `c` config-files only). */
const PRESENT_STATES = new Set(['i', 'U', 'F', 'W', 't', 'H']);

/**
 * `dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n'` → installed name → version.
 * Multi-Arch: same packages appear once per architecture with one version; the first wins.
 */
export function parseDpkgQuery(stdout: string): Map<string, string> {
  const versions = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [rawName, version, status] = line.split('\t');
    const name = packageName(rawName ?? '');
    if (!name || !version || !PRESENT_STATES.has(status?.charAt(1) ?? '')) continue;
    if (!versions.has(name)) versions.set(name, version);
  }
  return versions;
}

export interface AuditResult {
  broken: boolean;
  /** Package names from the indented ` name   description` lines. */
  packages: string[];
  text: string;
}

/** `dpkg --audit` exits 0 even when it finds problems: any output means broken. */
export function parseAudit(stdout: string): AuditResult {
  const text = stdout.trim();
  const packages = new Set<string>();
  for (const line of stdout.split('\n')) {
    const m = /^ (\S+)(?:\s|$)/.exec(line);
    const name = m?.[1] ? packageName(m[1]) : null;
    if (name) packages.add(name);
  }
  return { broken: text.length > 0, packages: [...packages], text };
}

export interface LockHolder {
  lockFile: string;
  /** null when apt could not tell (older apt, or a holder it cannot see). */
  pid: number | null;
  /** The holder's command name when apt could read it from /proc. */
  process: string | null;
}

/**
 * Finds the last "Could not get lock FILE. It is held by process N (name)" in apt output, or
 * dpkg's own "dpkg frontend lock was locked by another process with pid N". null when absent.
 */
export function parseLockHolder(output: string): LockHolder | null {
  let holder: LockHolder | null = null;
  for (const m of output.matchAll(
    /Could not get lock (\/\S+?)\.?(?: It is held by process (\d+)(?: \(([^)]+)\))?| |$)/gm,
  )) {
    holder = { lockFile: m[1] ?? '', pid: m[2] ? Number(m[2]) : null, process: m[3] ?? null };
  }
  if (holder) return holder;
  const dpkg = /dpkg frontend lock was locked by another process with pid (\d+)/.exec(output);
  if (dpkg?.[1]) return { lockFile: '/var/lib/dpkg/lock-frontend', pid: Number(dpkg[1]), process: null };
  return null;
}

/**
 * Whether apt/dpkg gave up because of a lock (not merely waited for one and then failed otherwise):
 * apt's final `E:` lines, or dpkg's own refusal (`apt-mark hold` runs `dpkg --set-selections`,
 * which does not wait).
 */
export function isLockFailure(output: string): boolean {
  return (
    /^E: (Could not get lock |Unable to acquire the dpkg frontend lock|Unable to lock directory)/m.test(output) ||
    /dpkg frontend lock was locked by another process/.test(output)
  );
}

/** "dpkg lock /var/lib/dpkg/lock-frontend is held by process 2 (perl)". */
export function describeLockHolder(holder: LockHolder): string {
  const kind = holder.lockFile.includes('/dpkg/') ? 'dpkg lock' : 'apt lock';
  const who = holder.pid === null ? 'another process' : `process ${holder.pid}`;
  return `${kind} ${holder.lockFile} is held by ${who}${holder.process ? ` (${holder.process})` : ''}`;
}

/** The text of the last `E:` line (apt's final word on a failure), or null. */
export function lastAptError(output: string): string | null {
  const errors = output
    .split('\n')
    .filter((l) => l.startsWith('E: '))
    .map((l) => l.slice(3).trim());
  return errors.at(-1) ?? null;
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

/** Packages whose installed version differs; null stands for "not installed" on either side. */
export function diffVersions(before: Map<string, string>, after: Map<string, string>): ChangedPackage[] {
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  return names
    .map((name) => ({ package: name, before: before.get(name) ?? null, after: after.get(name) ?? null }))
    .filter((c) => c.before !== c.after);
}
