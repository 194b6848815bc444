/**
 * Pure parsers for pacman output (C locale). Names read from the guest are checked with the
 * package-name rule; a line that does not parse is skipped, never guessed at.
 */
import { isValidPackageName } from '../../core/validate.js';
import type { PendingUpdate } from '../types.js';

export interface PendingLine {
  package: string;
  current: string;
  next: string;
  /** Marked `[ignored]`: IgnorePkg/IgnoreGroup keeps it back. */
  ignored: boolean;
}

export interface PlannedPackage {
  version: string;
  repository: string;
}

/** `pacman -Qu`: `name old -> new` with an optional ` [ignored]`. */
export function parsePending(stdout: string): PendingLine[] {
  const lines: PendingLine[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) (\S+) -> (\S+)( \[ignored\])?$/.exec(line.trim());
    if (m?.[1] && m[2] && m[3] && isValidPackageName(m[1]))
      lines.push({ package: m[1], current: m[2], next: m[3], ignored: m[4] !== undefined });
  }
  return lines;
}

/** `pacman -Su --print --print-format '%n %v %r'` → name → version and repository, in pacman's order. */
export function parsePlan(stdout: string): Map<string, PlannedPackage> {
  const plan = new Map<string, PlannedPackage>();
  for (const line of stdout.split('\n')) {
    const [name, version, repository, extra] = line.trim().split(' ');
    if (name && version && repository && extra === undefined && isValidPackageName(name))
      plan.set(name, { version, repository });
  }
  return plan;
}

/** `pacman -Q` → installed name → version. */
export function parseVersions(stdout: string): Map<string, string> {
  const versions = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [name, version, extra] = line.trim().split(' ');
    if (name && version && extra === undefined && isValidPackageName(name)) versions.set(name, version);
  }
  return versions;
}

/**
 * Pending updates as the engine sees them: every `-Qu` line that IgnorePkg does not keep back,
 * with its repository from the plan, then what the plan newly installs (current_version null).
 * Arch publishes no security metadata, so `security` is always false.
 */
export function mergeUpdates(pending: PendingLine[], plan: Map<string, PlannedPackage>): PendingUpdate[] {
  const updates: PendingUpdate[] = pending
    .filter((p) => !p.ignored)
    .map((p) => ({
      package: p.package,
      current_version: p.current,
      new_version: p.next,
      repository: plan.get(p.package)?.repository ?? '',
      security: false,
    }));
  const listed = new Set(pending.map((p) => p.package));
  for (const [name, planned] of plan) {
    if (listed.has(name)) continue;
    updates.push({
      package: name,
      current_version: null,
      new_version: planned.version,
      repository: planned.repository,
      security: false,
    });
  }
  return updates;
}

export interface IgnoreConfig {
  /** IgnorePkg entries; may be glob patterns such as `linux*`. */
  packages: string[];
  groups: string[];
}

/** `pacman-conf IgnorePkg IgnoreGroup`: `IgnorePkg = value` lines (verbose form, as two directives print). */
export function parseIgnoreConfig(stdout: string): IgnoreConfig {
  const config: IgnoreConfig = { packages: [], groups: [] };
  for (const line of stdout.split('\n')) {
    const m = /^(IgnorePkg|IgnoreGroup) = (\S+)$/.exec(line.trim());
    if (!m?.[2]) continue;
    (m[1] === 'IgnorePkg' ? config.packages : config.groups).push(m[2]);
  }
  return config;
}

/** Admin holds as reported: IgnorePkg entries as written, IgnoreGroup entries as `group:<name>`. */
export function adminHoldNames(config: IgnoreConfig): string[] {
  return [...config.packages, ...config.groups.map((g) => `group:${g}`)];
}

/** pacman's refusals when db.lck exists (`-Su`: init transaction; `-Sy`: synchronize). */
export function isLockFailure(output: string): boolean {
  return /unable to lock database|could not lock database/.test(output);
}

/**
 * pacman's reason for a failure: its first `error:` line, followed by the detail lines it prints
 * on stdout for dependency and file conflicts. null when pacman printed no error line.
 */
export function failureCause(output: string): string | null {
  const lines = output.split('\n').map((l) => l.trim());
  const error = lines.find((l) => l.startsWith('error: '));
  if (!error) return null;
  const detail = lines
    .filter((l) => /^:: .*(unable to satisfy|breaks dependency|are in conflict)|exists in filesystem/.test(l))
    .slice(0, 5);
  const cause = error.slice('error: '.length);
  return detail.length > 0 ? `${cause}: ${detail.map((d) => d.replace(/^:: /, '')).join('; ')}` : cause;
}

/** `warning: /etc/x installed as /etc/x.pacnew` → the .pacnew paths pacman reported. */
export function parsePacnewWarnings(output: string): string[] {
  const paths: string[] = [];
  for (const m of output.matchAll(/^warning: \S+ installed as (\S+\.pacnew)$/gm)) if (m[1]) paths.push(m[1]);
  return paths;
}
