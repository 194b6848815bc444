/**
 * Argv builders for zypper guests (openSUSE Leap/Tumbleweed, SLES). Every builder returns a fresh
 * string array; nothing here is ever joined into a shell string. zypper always runs as
 * `env LC_ALL=C ZYPP_LOCK_TIMEOUT=<s> zypper --non-interactive --no-color …`: untranslated
 * messages for the parsers, and zypper itself waits for the zypp lock (exit 7 only after the wait).
 */
import { PvepatchError } from '../../core/errors.js';
import { assertPackageNames, assertVersion } from '../../core/validate.js';

/** libzypp's own flag, set after installing a package that provides `installhint(reboot-needed)`. */
export const REBOOT_NEEDED_FILE = '/run/reboot-needed';
/** Config files rpm left beside (`.rpmnew`, noreplace kept the admin's) or instead of (`.rpmsave`) the admin's. */
export const CONFFILE_SUFFIXES = ['.rpmnew', '.rpmsave'] as const;
/** How a hold names a patch lock: zypper's own `kind:name` syntax (`zypper rl patch:ID`). */
export const PATCH_HOLD_PREFIX = 'patch:';

const PATCH_ID = /^[A-Za-z0-9][A-Za-z0-9+._:-]{0,127}$/;

function zypper(waitSeconds: number, args: readonly string[]): string[] {
  return ['env', 'LC_ALL=C', `ZYPP_LOCK_TIMEOUT=${waitSeconds}`, 'zypper', '--non-interactive', '--no-color', ...args];
}

/** Patch ids as SUSE spells them (`openSUSE-SLE-15.6-2024-3245`, `SUSE-2024:1234`); nothing a shell or zypper option could use. */
export function assertPatchIds(ids: readonly string[]): string[] {
  for (const id of ids) {
    if (!PATCH_ID.test(id)) throw new PvepatchError('input-invalid', `invalid patch id '${id}'`);
  }
  return [...ids];
}

/**
 * Lock names pvepatch adds and removes: a package name, or `patch:<id>`. A purely numeric name
 * is refused because `zypper removelock 3` removes the admin's lock number 3.
 */
export function assertHolds(holds: readonly string[]): string[] {
  for (const hold of holds) {
    if (hold.startsWith(PATCH_HOLD_PREFIX)) assertPatchIds([hold.slice(PATCH_HOLD_PREFIX.length)]);
    else assertPackageNames([hold]);
    if (/^\d+$/.test(hold)) {
      throw new PvepatchError(
        'input-invalid',
        `invalid package name '${hold}' - zypper reads a number as a lock index`,
      );
    }
  }
  return [...holds];
}

/** `zypper refresh`: zypper compares repomd.xml checksums itself, so no `--force` is needed. */
export function refreshCommand(waitSeconds: number): string[] {
  return zypper(waitSeconds, ['refresh']);
}

/** Pending package updates (locked packages are left out by zypper). Always exits 0 on success. */
export function listUpdatesCommand(waitSeconds: number): string[] {
  return zypper(waitSeconds, ['--xmlout', '--no-refresh', 'list-updates']);
}

/**
 * Applicable patches. zypper 1.14 ignores `--category` in XML mode (it lists every category), so
 * the parser filters on the `category` attribute itself; the option stays for newer zypper.
 */
export function listSecurityPatchesCommand(waitSeconds: number): string[] {
  return zypper(waitSeconds, ['--xmlout', '--no-refresh', 'list-patches', '--category', 'security']);
}

/** Patch details; the `Conflicts` section names the packages a patch updates (`name[.arch] < edition`). */
export function patchInfoCommand(waitSeconds: number, ids: readonly string[]): string[] {
  if (ids.length === 0) throw new Error('zypper info needs at least one patch');
  return zypper(waitSeconds, ['--xmlout', '--no-refresh', 'info', '-t', 'patch', '--', ...assertPatchIds(ids)]);
}

/** Every lock in /etc/zypp/locks. Takes the zypp lock, so it doubles as the lock probe. */
export function locksCommand(waitSeconds: number): string[] {
  return zypper(waitSeconds, ['--xmlout', 'locks']);
}

export function addLockCommand(waitSeconds: number, holds: readonly string[]): string[] {
  return lockCommand(waitSeconds, 'addlock', holds);
}

/** Removes only locks whose query is exactly this plain name (a repo- or version-bound lock stays). */
export function removeLockCommand(waitSeconds: number, holds: readonly string[]): string[] {
  return lockCommand(waitSeconds, 'removelock', holds);
}

function lockCommand(waitSeconds: number, verb: 'addlock' | 'removelock', holds: readonly string[]): string[] {
  if (holds.length === 0) throw new Error(`zypper ${verb} needs at least one name`);
  return zypper(waitSeconds, [verb, '--', ...assertHolds(holds)]);
}

/** Dependency check that changes nothing: an install summary with packages-to-change > 0 means broken. */
export function verifyDryRunCommand(waitSeconds: number): string[] {
  return zypper(waitSeconds, ['--xmlout', '--no-refresh', 'verify', '--dry-run']);
}

/** Repairs broken dependencies (only with fixBroken); `zypper update` would leave them broken. */
export function verifyCommand(waitSeconds: number): string[] {
  return zypper(waitSeconds, ['verify']);
}

/**
 * `zypper update` (not `dup`: Leap and SLES patch within a release). Licenses are agreed
 * automatically: the admin accepted them when installing, and an unattended run would otherwise abort.
 */
export function updateCommand(waitSeconds: number): string[] {
  return zypper(waitSeconds, ['update', '--auto-agree-with-licenses']);
}

/** An approved plan: exactly these versions (`name=version-release`), through `install`, which takes versions. */
export function pinnedUpdateCommand(waitSeconds: number, pins: Readonly<Record<string, string>>): string[] {
  const specs = Object.entries(pins).map(([n, v]) => `${assertPackageNames([n])[0]}=${assertVersion(v)}`);
  if (specs.length === 0) throw new Error('a pinned update needs at least one package');
  return zypper(waitSeconds, ['install', '--auto-agree-with-licenses', '--no-recommends', '--', ...specs]);
}

export function updateDryRunCommand(waitSeconds: number): string[] {
  return zypper(waitSeconds, ['--xmlout', 'update', '--dry-run']);
}

/**
 * Security patches only. `--with-interactive`: in non-interactive mode zypper otherwise skips every
 * patch that suggests a reboot ("Patch '…' is interactive, skipping.") — all kernel patches.
 */
export function securityPatchCommand(waitSeconds: number): string[] {
  return zypper(waitSeconds, ['patch', '--category', 'security', '--with-interactive', '--auto-agree-with-licenses']);
}

/** Exit 102 = reboot needed, 0 = not; no lock wait (a held lock falls back to the flag file). */
export function needsRebootingCommand(): string[] {
  return zypper(0, ['needs-rebooting']);
}

/** Services (systemd units) whose processes use deleted files, one per line. Needs lsof; takes no zypp lock. */
export function servicesCommand(): string[] {
  return ['env', 'LC_ALL=C', 'zypper', '--non-interactive', '--no-color', 'ps', '-sss'];
}

/** One line per installed package: name, `[epoch:]version-release` as zypper spells editions, install time. */
export function versionsCommand(): string[] {
  return ['rpm', '-qa', '--qf', '%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{INSTALLTIME}\\n'];
}

export function existsCommand(path: string): string[] {
  return ['test', '-e', path];
}
