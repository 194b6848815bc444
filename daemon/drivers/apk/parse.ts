/**
 * Pure parsers for apk output (apk-tools 2.14 and 3.x print the same lines for everything read
 * here). Names read from the guest are checked with the package-name rule; a line that does not
 * parse is skipped, never guessed at.
 */
import { isValidPackageName } from '../../core/validate.js';

export interface SimulatedChange {
  package: string;
  /** null for `Installing` (a new dependency). */
  current: string | null;
  /** null for `Purging`. */
  next: string | null;
  action: string;
}

/**
 * One commit line: `(i/n) Upgrading name[@tag] (old -> new)` or `(i/n) Installing name (ver)`.
 * apk 3 pads the counter (`( 1/12)`); a tagged repository follows the name directly (`@edge`).
 */
const CHANGE =
  /^\(\s*\d+\/\d+\) (Upgrading|Downgrading|Replacing|Installing|Purging|Reinstalling|Updating pinning) ([^\s@]+)(@\S+)? \((\S+?)(?: -> (\S+))?\)$/;

/** The `(i/n) …` lines of `apk upgrade` / `apk upgrade --simulate`; reinstalls and pin-only changes are left out. */
export function parseChanges(stdout: string): SimulatedChange[] {
  const changes: SimulatedChange[] = [];
  for (const line of stdout.split('\n')) {
    const m = CHANGE.exec(line.trim());
    if (!m?.[1] || !m[2] || !m[4] || !isValidPackageName(m[2])) continue;
    const [action, name, , first, second] = [m[1], m[2], m[3], m[4], m[5]];
    if (action === 'Reinstalling' || action === 'Updating pinning') continue;
    if (action === 'Installing') changes.push({ package: name, current: null, next: first, action });
    else if (action === 'Purging') changes.push({ package: name, current: first, next: null, action });
    else if (second) changes.push({ package: name, current: first, next: second, action });
  }
  return changes;
}

/**
 * `apk policy a b …` → name → version → repositories, in apk's order. The installed-database
 * line (`lib/apk/db/installed`) is not a repository and is left out.
 */
export function parsePolicy(stdout: string): Map<string, Map<string, string[]>> {
  const policy = new Map<string, Map<string, string[]>>();
  let versions: Map<string, string[]> | undefined;
  let repos: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const name = /^(\S+) policy:$/.exec(line)?.[1];
    const version = /^ {2}(\S+?)(?: \([a-z]+\))?:$/.exec(line)?.[1];
    const repo = /^ {4}(\S.*)$/.exec(line)?.[1];
    if (name) {
      versions = new Map();
      policy.set(name, versions);
    } else if (version && versions) {
      repos = [];
      versions.set(version, repos);
    } else if (repo && repos && !/(^|\/)installed$/.test(repo)) repos.push(repo.trim());
  }
  return policy;
}

/** The first repository offering `version` of `name` (with its `@tag` when tagged), or ''. */
export function repositoryOf(policy: Map<string, Map<string, string[]>>, name: string, version: string): string {
  return policy.get(name)?.get(version)?.[0] ?? '';
}

/**
 * Splits `name-version` as apk does: the version is the last two dash-separated parts
 * (`1.2.3-r0`), so a name like `font-adobe-100dpi` stays whole. null when it does not fit.
 */
export function splitNameVersion(text: string): { name: string; version: string } | null {
  const m = /^(.+)-([0-9][^-\s]*-r[0-9]+)$/.exec(text.trim());
  if (!m?.[1] || !m[2] || !isValidPackageName(m[1])) return null;
  return { name: m[1], version: m[2] };
}

/** `apk info -v` → installed name → version. */
export function parseInstalled(stdout: string): Map<string, string> {
  const versions = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const nv = splitNameVersion(line);
    if (nv) versions.set(nv.name, nv.version);
  }
  return versions;
}

/** `apk update` summary: `OK: N distinct packages available` or `U unavailable, S stale; …`. */
export function parseRefreshSummary(stdout: string): { unavailable: number; stale: number } | null {
  if (/^OK: \d+ distinct packages available$/m.test(stdout)) return { unavailable: 0, stale: 0 };
  const m = /^(\d+) unavailable, (\d+) stale;/m.exec(stdout);
  return m?.[1] && m[2] ? { unavailable: Number(m[1]), stale: Number(m[2]) } : null;
}

/** apk's refusal when another apk holds the database lock (apk 2.14 and 3 word the cause differently). */
export function isLockFailure(output: string): boolean {
  return /^ERROR: Unable to lock database: /m.test(output);
}

/**
 * apk's own words: its `ERROR:` lines with the indented detail lines the solver prints under
 * them, joined; else its `WARNING:` lines; null when it printed neither.
 */
export function failureCause(output: string): string | null {
  const errors: string[] = [];
  const warnings: string[] = [];
  let inError = false;
  for (const line of output.split('\n')) {
    if (line.startsWith('ERROR: ')) errors.push(line.slice('ERROR: '.length).trim());
    else if (inError && /^\s+\S/.test(line)) errors[errors.length - 1] += ` ${line.trim()}`;
    else if (line.startsWith('WARNING: ')) warnings.push(line.slice('WARNING: '.length).trim());
    inError = line.startsWith('ERROR: ') || (inError && /^\s+\S/.test(line));
  }
  if (errors.length > 0) return errors.slice(0, 5).join('; ');
  return warnings.length > 0 ? warnings.slice(0, 5).join('; ') : null;
}

/** `find … -exec stat -c '%Z %n'` → path → ctime. */
export function parseConffiles(stdout: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^(\d+) (\/.+)$/.exec(line.trim());
    if (m?.[1] && m[2]) files.set(m[2], m[1]);
  }
  return files;
}
