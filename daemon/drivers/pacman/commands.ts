/**
 * Argv builders for pacman guests (Arch Linux and derivatives). Every builder returns a fresh
 * string array; nothing is ever joined into a shell string. Package names are validated again
 * here (`assertPackageNames`) before they become `--ignore` arguments.
 */
import { assertPackageNames } from '../../core/validate.js';

/** Untranslated output: the parsers depend on C-locale pacman messages. */
const PACMAN = ['env', 'LC_ALL=C', 'pacman'] as const;

/** pacman's lock: a plain file created with O_EXCL, never an fcntl lock, so its presence is the lock. */
export const DB_LOCK = '/var/lib/pacman/db.lck';
/** `.pacnew` files pacman leaves beside config files the admin changed. */
export const CONFFILE_SUFFIXES = ['.pacnew'] as const;
/** `pacman -Su --print` output: name, version, repository, one package a line. */
export const PLAN_FORMAT = '%n %v %r';

/** One `--ignore <name>` pair per exclusion: pacman's transient, per-command IgnorePkg. */
function ignoreArgs(exclude: readonly string[]): string[] {
  return assertPackageNames(exclude).flatMap((name) => ['--ignore', name]);
}

/**
 * `pacman -Syy`: re-downloads every sync database even when pacman thinks it is current (`-Sy`
 * compares modification times at one-second resolution and can skip a database changed within
 * the same second, and keeps a local copy newer than a mirror it was switched to).
 */
export function refreshCommand(): string[] {
  return [...PACMAN, '-Syy', '--noconfirm'];
}

/** `pacman -Qu`: `name old -> new[ [ignored]]`; exit 1 with no output means nothing is pending. */
export function pendingCommand(): string[] {
  return [...PACMAN, '-Qu'];
}

/**
 * `pacman -Su --print`: what the upgrade would install (new dependencies included, IgnorePkg and
 * `--ignore` applied), as `name version repository`. Takes no lock and changes nothing;
 * `--noconfirm` answers replace/conflict questions as the real upgrade does.
 */
export function planCommand(exclude: readonly string[] = []): string[] {
  return [...PACMAN, '-Su', '--print', '--noconfirm', '--print-format', PLAN_FORMAT, ...ignoreArgs(exclude)];
}

/** The upgrade: a full system upgrade against the databases the last refresh fetched. */
export function upgradeCommand(exclude: readonly string[] = []): string[] {
  return [...PACMAN, '-Su', '--noconfirm', ...ignoreArgs(exclude)];
}

/** `pacman -Q`: `name version` for every installed package. */
export function versionsCommand(): string[] {
  return [...PACMAN, '-Q'];
}

/**
 * pacman's own config parser (Include files and all): `IgnorePkg = x` / `IgnoreGroup = y` lines,
 * the admin's permanent holds. Nothing when neither is set.
 */
export function ignoreConfigCommand(): string[] {
  return ['env', 'LC_ALL=C', 'pacman-conf', 'IgnorePkg', 'IgnoreGroup'];
}

export function lockPresentCommand(): string[] {
  return ['test', '-e', DB_LOCK];
}

/** `pid command line` of running processes whose name contains pacman; exit 1 when there are none. */
export function lockHolderCommand(): string[] {
  return ['pgrep', '-a', 'pacman'];
}
