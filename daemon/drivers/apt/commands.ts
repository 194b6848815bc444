/**
 * Argv builders for apt guests. Every builder returns a fresh string array; nothing here is ever
 * joined into a shell string. Package names must be validated before they reach these builders
 * (`assertPackageNames`), and `holdCommand`/`unholdCommand` check them again.
 */
import { assertPackageNames, assertVersion } from '../../core/validate.js';

/** Non-interactive, untranslated output: the parsers depend on C-locale apt messages. */
const APT_ENV = ['env', 'DEBIAN_FRONTEND=noninteractive', 'LC_ALL=C'] as const;
/** Without it dpkg writes `(Reading database ... 5%` progress with carriage returns. */
const NO_PTY = ['-o', 'Dpkg::Use-Pty=0'] as const;

export const DPKG_FRONTEND_LOCK = '/var/lib/dpkg/lock-frontend';
/** Debian's flag (update-notifier-common's and packages' postinsts write it; /var/run is /run). */
export const REBOOT_REQUIRED_FILE = '/var/run/reboot-required';
/** Config files dpkg and ucf leave beside the admin's kept ones. */
export const CONFFILE_SUFFIXES = ['.dpkg-dist', '.ucf-dist'] as const;
/** man-db's own switch: its trigger runs mandb only while this file exists. */
export const MANDB_AUTO_UPDATE = '/var/lib/man-db/auto-update';
/** Where the switch is parked during an upgrade; its presence means "restore me" (also after a crash). */
export const MANDB_PARKED = '/var/lib/man-db/auto-update.pvepatch';

function aptGet(waitSeconds: number | null, args: readonly string[], extraEnv: readonly string[] = []): string[] {
  const lock = waitSeconds === null ? [] : ['-o', `DPkg::Lock::Timeout=${waitSeconds}`];
  return [...APT_ENV, ...extraEnv, 'apt-get', ...NO_PTY, ...lock, ...args];
}

/** `apt-get update`, tolerating a Release whose Origin/Label/Codename changed (Debian point releases). */
export function refreshCommand(waitSeconds: number): string[] {
  return aptGet(waitSeconds, ['update', '--allow-releaseinfo-change']);
}

/** `apt-get -s dist-upgrade`: prints Inst/Conf/Remv lines; takes no lock and changes nothing. */
export function simulateCommand(): string[] {
  return aptGet(null, ['-s', 'dist-upgrade']);
}

/**
 * `apt-get check` takes the dpkg frontend lock (waiting up to `waitSeconds`) and changes nothing:
 * the lock probe before holds are applied, and a dependency check for the precheck.
 */
export function lockProbeCommand(waitSeconds: number): string[] {
  return aptGet(waitSeconds, ['check']);
}

/**
 * The upgrade: keep the admin's config files (confdef/confold, and ucf's equivalent), never open
 * apt-listchanges' pager. `fixBroken` adds `--fix-broken` and is only passed when policy allows it.
 */
export function upgradeCommand(
  waitSeconds: number,
  opts: { fixBroken?: boolean; pins?: Record<string, string> } = {},
): string[] {
  const args = ['-y', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'];
  if (opts.fixBroken) args.push('--fix-broken');
  const pins = Object.entries(opts.pins ?? {});
  // an approved plan: exactly those versions of those packages (a held dependency stops it before any change)
  if (pins.length > 0)
    args.push(
      'install',
      '--only-upgrade',
      '--',
      ...pins.map(([n, v]) => `${assertPackageNames([n])[0]}=${assertVersion(v)}`),
    );
  else args.push('dist-upgrade');
  return aptGet(waitSeconds, args, ['UCF_FORCE_CONFFOLD=1', 'APT_LISTCHANGES_FRONTEND=none']);
}

/**
 * `apt-mark hold -- <names…>`; refuses an empty or invalid list (an empty one would print usage).
 * No lock timeout: apt-mark hands the change to `dpkg --set-selections`, which never waits.
 */
export function holdCommand(names: readonly string[]): string[] {
  return markCommand('hold', names);
}

export function unholdCommand(names: readonly string[]): string[] {
  return markCommand('unhold', names);
}

function markCommand(verb: 'hold' | 'unhold', names: readonly string[]): string[] {
  if (names.length === 0) throw new Error(`apt-mark ${verb} needs at least one package`);
  return [...APT_ENV, 'apt-mark', verb, '--', ...assertPackageNames(names)];
}

/** One line per known package: name, version, three-letter status (`ii `, `rc `, `hi `…). */
export function versionsCommand(): string[] {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax, not JavaScript
  return ['dpkg-query', '-W', '-f=${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'];
}

/** Exits 0 even when it reports problems: any output means a broken package state. */
export function auditCommand(): string[] {
  return [...APT_ENV, 'dpkg', '--audit'];
}

export function existsCommand(path: string): string[] {
  return ['test', '-e', path];
}

/** Moves a file aside without following or replacing a directory at the target. */
export function moveCommand(from: string, to: string): string[] {
  return ['mv', '-f', '-T', '--', from, to];
}
