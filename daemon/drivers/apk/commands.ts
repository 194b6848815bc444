/**
 * Argv builders for apk guests (Alpine Linux, apk-tools 2.14 and 3.x). Every builder returns a
 * fresh string array; nothing is ever joined into a shell string. Package names are validated
 * again here (`assertPackageNames`) before they reach an argv.
 */
import { assertPackageNames } from '../../core/validate.js';

/** Untranslated output, no progress bar: the parsers depend on apk's plain messages. */
const APK = ['env', 'LC_ALL=C', 'apk', '--no-progress'] as const;

/** apk's lock: an flock on this file, which stays on disk, so only apk itself can tell it is held. */
export const APK_LOCK = '/lib/apk/db/lock';
export const WORLD = '/etc/apk/world';
/** The world as it was before pvepatch pinned exclusions; its presence means "restore me" (also after a crash). */
export const WORLD_BACKUP = '/etc/apk/world.pvepatch';
/** The pinned world is written here first and renamed over the world. */
export const WORLD_PINNED = '/etc/apk/world.pvepatch-new';

/** `apk update`: takes the database lock (waiting up to `waitSeconds`) and fetches every index. */
export function refreshCommand(waitSeconds: number): string[] {
  return [...APK, '--wait', String(waitSeconds), 'update'];
}

/**
 * `apk upgrade --simulate`: what the upgrade would do (world pins, dependencies and new packages
 * included); opens the database read-only, so it takes no lock and changes nothing.
 */
export function simulateCommand(): string[] {
  return [...APK, 'upgrade', '--simulate'];
}

/**
 * The upgrade: plain `apk upgrade` (apk-tools upgrades itself first, then re-executes), never
 * `--available` (it would downgrade or replace packages installed from elsewhere).
 */
export function upgradeCommand(waitSeconds: number): string[] {
  return [...APK, '--wait', String(waitSeconds), 'upgrade'];
}

/** `apk policy <names…>`: the repositories offering each version. */
export function policyCommand(names: readonly string[]): string[] {
  if (names.length === 0) throw new Error('apk policy needs at least one package');
  // validated names never start with '-', so no '--' is needed (apk 3 parses its own options)
  return [...APK, 'policy', ...assertPackageNames(names)];
}

/** `apk info -v`: `name-version` for every installed package. */
export function versionsCommand(): string[] {
  return [...APK, 'info', '-v'];
}

export function readWorldCommand(): string[] {
  return ['cat', WORLD];
}

/** Keeps the original world byte for byte (mode and owner too) before anything changes it. */
export function backupWorldCommand(): string[] {
  return ['cp', '-p', WORLD, WORLD_BACKUP];
}

/** Writes stdin (the pinned world) to the side file; stdout is discarded. */
export function writePinnedCommand(): string[] {
  return ['tee', WORLD_PINNED];
}

/** Renames the pinned world over the world in one step. */
export function applyPinnedCommand(): string[] {
  return ['mv', '-f', WORLD_PINNED, WORLD];
}

/** Puts the original world back (rename, so it is never half-written). */
export function restoreWorldCommand(): string[] {
  return ['mv', '-f', WORLD_BACKUP, WORLD];
}

export function existsCommand(path: string): string[] {
  return ['test', '-e', path];
}

/** `pid command line` of running apk processes (busybox and procps pgrep both know -a). */
export function lockHolderCommand(): string[] {
  return ['pgrep', '-a', 'apk'];
}

/**
 * `.apk-new` files under /etc with their change time (`<ctime> <path>`). busybox find has no
 * -printf, so stat prints them; apk renames the new file into place, which sets the ctime.
 */
export function conffilesCommand(): string[] {
  return ['find', '/etc', '-xdev', '-name', '*.apk-new', '-exec', 'stat', '-c', '%Z %n', '{}', ';'];
}
