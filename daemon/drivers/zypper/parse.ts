/**
 * Pure parsers for zypper's `--xmlout` output (zypper 1.14). Names read from the guest are checked
 * with the package-name rule; what does not parse is reported in `unparsed`, never guessed at.
 */
import { isValidPackageName } from '../../core/validate.js';
import { globMatches } from '../shared/glob.js';
import type { PendingUpdate } from '../types.js';
import { child, descendants, parseXml } from './xml.js';

export interface ParsedUpdates {
  updates: PendingUpdate[];
  /** `<update>` elements that had no usable name or edition. */
  unparsed: string[];
}

/** `zypper --xmlout list-updates`: package updates; `security` is filled in later from the patches. */
export function parseListUpdates(xml: string): ParsedUpdates {
  const out: ParsedUpdates = { updates: [], unparsed: [] };
  const seen = new Set<string>();
  for (const u of descendants(parseXml(xml), 'update')) {
    const { kind, name, edition } = u.attrs;
    if (kind !== undefined && kind !== 'package') continue;
    if (!name || !isValidPackageName(name) || !edition) {
      out.unparsed.push(`${name ?? '?'} ${edition ?? '?'}`);
      continue;
    }
    if (seen.has(name)) continue; // one entry per name, as the other drivers report
    seen.add(name);
    const source = child(u, 'source');
    out.updates.push({
      package: name,
      current_version: u.attrs['edition-old'] || null,
      new_version: edition,
      repository: source?.attrs.alias ?? '',
      security: false,
    });
  }
  return out;
}

export interface Patch {
  id: string;
  category: string;
  /** `needed`, `applied`, `not-needed`, `unwanted` (locked)… */
  status: string;
  /** Suggests a reboot, shows a message or needs a license: skipped by `--non-interactive` unless `--with-interactive`. */
  interactive: boolean;
  /** Touches the package manager itself (installed first, then zypper exits 103). */
  pkgmanager: boolean;
}

/** `zypper --xmlout list-patches`: every patch element, whatever `--category` asked for. */
export function parsePatches(xml: string): Patch[] {
  return descendants(parseXml(xml), 'update')
    .filter((u) => u.attrs.kind === 'patch' && u.attrs.name)
    .map((u) => ({
      id: u.attrs.name ?? '',
      category: u.attrs.category ?? '',
      status: u.attrs.status ?? '',
      interactive: u.attrs.interactive === 'true',
      pkgmanager: u.attrs.pkgmanager === 'true',
    }));
}

/** Needed security patches: the ones `zypper patch --category security` would install. */
export function neededSecurityPatches(patches: readonly Patch[]): Patch[] {
  return patches.filter((p) => p.category === 'security' && p.status === 'needed');
}

const ARCHES = new Set(
  'noarch x86_64 i386 i486 i586 i686 aarch64 aarch64_ilp32 armv5tel armv6l armv6hl armv7l armv7hl ppc64le ppc64 ppc s390x s390 riscv64 src nosrc'.split(
    ' ',
  ),
);

/**
 * `zypper --xmlout info -t patch ID…` → patch id → package names it updates. zypper 1.14 prints
 * the info as text inside `<message>`: `Name        : ID` and a `Conflicts   :` section with one
 * `name[.arch] < edition` per line (after `Conflicts   : [n]`) or inline when there is one.
 */
export function parsePatchInfo(xml: string): Map<string, string[]> {
  const coverage = new Map<string, string[]>();
  for (const m of descendants(parseXml(xml), 'message')) {
    const id = infoField(m.text, 'Name');
    if (!id || id.includes(' ')) continue;
    coverage.set(id, conflictNames(m.text));
  }
  return coverage;
}

/** The value of an `info` field line (`Name        : value`), or null. */
function infoField(text: string, field: string): string | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(field)) continue;
    const rest = line.slice(field.length).trimStart();
    if (rest.startsWith(':')) return rest.slice(1).trim();
  }
  return null;
}

function conflictNames(info: string): string[] {
  const lines = info.split('\n');
  const start = lines.findIndex(
    (l) => l.startsWith('Conflicts') && l.slice('Conflicts'.length).trimStart().startsWith(':'),
  );
  if (start < 0) return [];
  const inline = lines[start]!.slice(lines[start]!.indexOf(':') + 1).trim();
  const entries = inline.startsWith('[') && inline.endsWith(']') ? [] : [inline];
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!(line.startsWith(' ') || line.startsWith('\t')) || line.trim() === '') break;
    entries.push(line.trim());
  }
  const names = new Set<string>();
  for (const entry of entries) {
    const space = entry.indexOf(' ');
    const raw = space > 0 && entry.slice(space).trimStart().startsWith('<') ? entry.slice(0, space) : null;
    const name = raw === null ? null : withoutArch(raw);
    if (name && isValidPackageName(name)) names.add(name);
  }
  return [...names];
}

/** `name.x86_64` → `name` for the architectures rpm knows; other dots stay (`python3.11`). */
function withoutArch(raw: string): string {
  const dot = raw.lastIndexOf('.');
  return dot > 0 && ARCHES.has(raw.slice(dot + 1)) ? raw.slice(0, dot) : raw;
}

export interface ZypperLock {
  name: string;
  /** `package`, `patch`, `pattern`, `product`… */
  type: string;
  /** Set when the lock is bound to one repository (`zypper addlock -r ALIAS`). */
  repo: string | null;
  /** Set when the lock is bound to versions (`zypper addlock 'name < 2'`), e.g. `< 2`. */
  range: string | null;
}

/** `zypper --xmlout locks`. */
export function parseLocks(xml: string): ZypperLock[] {
  return descendants(parseXml(xml), 'lock').map((l) => {
    const range = child(l, 'range')?.attrs;
    const version = range ? [range.version, range.release].filter((s) => s).join('-') : '';
    const repo = child(l, 'repo');
    return {
      name: child(l, 'name')?.text ?? '',
      type: child(l, 'type')?.text ?? 'package',
      repo: repo ? repo.text : null,
      range: range ? `${range.flag ?? ''} ${version}`.trim() : null,
    };
  });
}

/** A plain package lock: exactly what `zypper addlock NAME` writes, and what `removelock NAME` removes. */
export function isPlainPackageLock(lock: ZypperLock): boolean {
  return lock.type === 'package' && lock.repo === null && lock.range === null;
}

/** How a lock is shown in results: `demo-lib`, `patch:ID`, `demo-tool < 2`, `demo-conf (repo demo)`. */
export function describeLock(lock: ZypperLock): string {
  const kind = lock.type === 'package' ? '' : `${lock.type}:`;
  return `${kind}${lock.name}${lock.range ? ` ${lock.range}` : ''}${lock.repo ? ` (repo ${lock.repo})` : ''}`;
}

/** Whether a package lock (name may be a glob: `kernel*`) can match this package name. */
export function lockMatches(lock: ZypperLock, name: string): boolean {
  return lock.type === 'package' && globMatches(lock.name, name);
}

export interface SummaryChange {
  package: string;
  before: string | null;
  after: string | null;
}

export interface InstallSummary {
  packagesToChange: number;
  /** Package solvables of to-upgrade / to-downgrade / to-install / to-reinstall / to-remove. */
  changes: SummaryChange[];
}

/** The `<install-summary>` of `--xmlout update|patch|verify --dry-run`; null when zypper printed none. */
export function parseInstallSummary(xml: string): InstallSummary | null {
  const summary = descendants(parseXml(xml), 'install-summary')[0];
  if (!summary) return null;
  const changes: SummaryChange[] = [];
  for (const section of ['to-upgrade', 'to-downgrade', 'to-install', 'to-reinstall', 'to-remove']) {
    for (const block of descendants(summary, section)) {
      for (const s of descendants(block, 'solvable')) {
        const { type, name, edition } = s.attrs;
        if (type !== 'package' || !name || !isValidPackageName(name)) continue;
        const removed = section === 'to-remove';
        const old = section === 'to-reinstall' || removed ? edition : s.attrs['edition-old'];
        changes.push({ package: name, before: old ?? null, after: removed ? null : (edition ?? null) });
      }
    }
  }
  return { packagesToChange: Number(summary.attrs['packages-to-change'] ?? changes.length), changes };
}
