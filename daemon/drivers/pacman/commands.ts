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
/** Arch itself never writes these; packages or admins may (the lab's demo-app does). */
export const REBOOT_REQUIRED_FILE = '/run/reboot-required';
export const REBOOT_PACKAGES_FILE = '/run/reboot-required.pkgs';
/** Arch's kernel packages; an upgrade of one of them needs a reboot to take effect. */
export const KERNEL_PACKAGES = ['linux', 'linux-lts', 'linux-zen', 'linux-hardened'] as const;
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

export function kernelReleaseCommand(): string[] {
  return ['uname', '-r'];
}

export function rebootRequiredCommand(): string[] {
  return ['test', '-e', REBOOT_REQUIRED_FILE];
}

export function rebootPackagesCommand(): string[] {
  return ['cat', REBOOT_PACKAGES_FILE];
}

/**
 * `.pacnew` files under /etc with their change time: pacman extracts with the archive's mtime,
 * but its rename sets ctime, so a new ctime tells which ones this run wrote.
 */
export function conffilesCommand(): string[] {
  return ['find', '/etc', '-xdev', '-name', '*.pacnew', '-printf', '%p\\t%C@\\n'];
}
