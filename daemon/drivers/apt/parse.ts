/**
 * Pure parsers for apt/dpkg output (C locale). Hand-written scanners, linear in their input: no
 * regex runs over guest text. Names read from the guest are checked with the package-name rule;
 * a line that does not parse is reported, never guessed at.
 */
import { isValidPackageName } from '../../core/validate.js';
import type { LockHolder } from '../shared/lock-wait.js';
import { isDigits } from '../shared/parse.js';
import type { PendingUpdate } from '../types.js';

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

/** Strips the `:amd64` qualifier apt adds for foreign-architecture packages; null when invalid. */
export function packageName(raw: string): string | null {
  if (raw.length > 200) return null;
  const colon = raw.lastIndexOf(':');
  const name = colon > 0 ? raw.slice(0, colon) : raw;
  return isValidPackageName(name) ? name : null;
}

/** The text between `open` at `from` and the next `close`, and the index after it; null when absent. */
function bracketed(text: string, from: number, open: string, close: string): { inner: string; end: number } | null {
  if (text[from] !== open) return null;
  const end = text.indexOf(close, from + 1);
  return end < 0 ? null : { inner: text.slice(from + 1, end), end: end + close.length };
}

/**
 * `Inst name [old] (new Origin:Version/suite[, Origin2…] [arch]) [trailing…]`; `[old]` is absent for
 * new installs, and an origin may be missing (`(1.0  [all])`). `name` may carry `:arch`.
 */
export function parseInstLine(line: string): PendingUpdate | null {
  if (!line.startsWith('Inst ')) return null;
  const nameEnd = line.indexOf(' ', 5);
  const name = nameEnd < 0 ? null : packageName(line.slice(5, nameEnd));
  if (!name) return null;
  let at = nameEnd + 1;
  const old = bracketed(line, at, '[', ']');
  if (old) at = old.end + 1;
  if (line[at] !== '(') return null;
  const versionEnd = line.indexOf(' ', at + 1);
  // the parenthesis closes at the first "])" that ends the line or is followed by a space
  let close = line.indexOf('])', versionEnd);
  while (close >= 0 && close + 2 < line.length && line[close + 2] !== ' ') close = line.indexOf('])', close + 1);
  if (versionEnd < 0 || close < 0) return null;
  const archOpen = line.lastIndexOf('[', close);
  if (archOpen <= versionEnd) return null;
  const newVersion = line.slice(at + 1, versionEnd);
  const origins = line
    .slice(versionEnd + 1, archOpen)
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0);
  if (newVersion === '') return null;
  return {
    package: name,
    current_version: old ? old.inner : null,
    new_version: newVersion,
    repository: origins[0] ?? '',
    security: origins.some(isSecurityOrigin),
  };
}

function isSecurityOrigin(origin: string): boolean {
  const o = origin.toLowerCase();
  return o.includes('-security') || o.includes('debian-security');
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
      const end = line.indexOf(' ', 5);
      const name = packageName(line.slice(5, end < 0 ? line.length : end));
      if (name) sim.removals.push(name);
      else sim.unparsed.push(line);
    } else if (line.endsWith(' not fully installed or removed.')) {
      const count = line.slice(0, line.indexOf(' '));
      if (isDigits(count)) sim.notFullyInstalled = Number(count);
    }
  }
  sim.keptBack = parseIndentedList(stdout, 'The following packages have been kept back:');
  return sim;
}

/** The indented names that follow an apt heading line, up to the next unindented line. */
export function parseIndentedList(stdout: string, heading: string): string[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return [];
  const names: string[] = [];
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith(' ')) break;
    for (const word of line.split(' ')) {
      const name = word === '' ? null : packageName(word);
      if (name) names.push(name);
    }
  }
  return names;
}

/** `apt-mark showhold`: one name per line. */
export function parseShowhold(stdout: string): string[] {
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
    const [rawName, version, status] = line.split('\t', 3);
    const name = packageName(rawName ?? '');
    if (!name || !version || !PRESENT_STATES.has(status?.charAt(1) ?? '')) continue;
    if (!versions.has(name)) versions.set(name, version);
  }
  return versions;
}

/** Packages whose dpkg selection is `hold` (`${db:Status-Abbrev}` starts with `h`): what `apt-mark showhold` lists. */
export function parseDpkgHolds(stdout: string): string[] {
  const names = new Set<string>();
  for (const line of stdout.split('\n')) {
    const [rawName, , status] = line.split('\t', 3);
    const name = packageName(rawName ?? '');
    if (name && status?.charAt(0) === 'h') names.add(name);
  }
  return [...names];
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
    if (line[0] !== ' ' || line[1] === ' ' || line.length < 2) continue;
    const end = line.indexOf(' ', 1);
    const name = packageName(line.slice(1, end < 0 ? line.length : end).trimEnd());
    if (name) packages.add(name);
  }
  return { broken: text.length > 0, packages: [...packages], text };
}

const COULD_NOT_GET_LOCK = 'Could not get lock ';
const HELD_BY = ' It is held by process ';
const DPKG_FRONTEND = 'dpkg frontend lock was locked by another process with pid ';

/** "dpkg lock" for /var/lib/dpkg/…, "apt lock" for the lists and archives locks. */
function holder(lock: string, pid: number | null, process: string | null): LockHolder {
  return { kind: lock.includes('/dpkg/') ? 'dpkg lock' : 'apt lock', lock, pid, process };
}

/** One "Could not get lock FILE[.] [It is held by process N (name)]" occurrence in a line. */
function lockInLine(line: string, at: number): LockHolder | null {
  const fileStart = at + COULD_NOT_GET_LOCK.length;
  if (line[fileStart] !== '/') return null;
  let fileEnd = line.indexOf(' ', fileStart);
  if (fileEnd < 0) fileEnd = line.length;
  const raw = line.slice(fileStart, fileEnd);
  const file = raw.endsWith('.') ? raw.slice(0, -1) : raw;
  if (!line.startsWith(HELD_BY, fileEnd)) return holder(file, null, null);
  const pidStart = fileEnd + HELD_BY.length;
  let pidEnd = pidStart;
  while (pidEnd < line.length && line.charCodeAt(pidEnd) >= 48 && line.charCodeAt(pidEnd) <= 57) pidEnd++;
  const pid = isDigits(line.slice(pidStart, pidEnd), 10) ? Number(line.slice(pidStart, pidEnd)) : null;
  const closing = line.startsWith(' (', pidEnd) ? line.indexOf(')', pidEnd) : -1;
  const named = closing > 0 ? line.slice(pidEnd + 2, closing) : '';
  return holder(file, pid, named !== '' && !named.includes('(') ? named : null);
}

/**
 * Finds the last "Could not get lock FILE. It is held by process N (name)" in apt output, or
 * dpkg's own "dpkg frontend lock was locked by another process with pid N". null when absent.
 */
export function parseLockHolder(output: string): LockHolder | null {
  let found: LockHolder | null = null;
  for (const line of output.split('\n')) {
    const at = line.lastIndexOf(COULD_NOT_GET_LOCK);
    if (at >= 0) found = lockInLine(line, at) ?? found;
  }
  if (found) return found;
  const dpkg = output.indexOf(DPKG_FRONTEND);
  if (dpkg < 0) return null;
  let end = dpkg + DPKG_FRONTEND.length;
  const start = end;
  while (end < output.length && output.charCodeAt(end) >= 48 && output.charCodeAt(end) <= 57) end++;
  const pid = output.slice(start, end);
  return holder('/var/lib/dpkg/lock-frontend', isDigits(pid, 10) ? Number(pid) : null, null);
}

const LOCK_FAILURES = [
  'E: Could not get lock ',
  'E: Unable to acquire the dpkg frontend lock',
  'E: Unable to lock directory',
];

/**
 * Whether apt/dpkg gave up because of a lock (not merely waited for one and then failed otherwise):
 * apt's final `E:` lines, or dpkg's own refusal (`apt-mark hold` runs `dpkg --set-selections`,
 * which does not wait).
 */
export function isLockFailure(output: string): boolean {
  if (output.includes(DPKG_FRONTEND)) return true;
  return output.split('\n').some((l) => LOCK_FAILURES.some((p) => l.startsWith(p)));
}

/** The text of the last `E:` line (apt's final word on a failure), or null. */
export function lastAptError(output: string): string | null {
  let last: string | null = null;
  for (const line of output.split('\n')) if (line.startsWith('E: ')) last = line.slice(3).trim();
  return last;
}

/** Lines of `apt-get update` stderr that are warnings (`W: …`). */
export function parseWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('W: '));
}
