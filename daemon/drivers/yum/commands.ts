/**
 * Argv builders for yum guests (RHEL/CentOS 7, yum 3.4.3). Every builder returns a fresh string
 * array; nothing is joined into a shell string. yum always runs as
 * `env LC_ALL=C yum --setopt=exit_on_lock=1 …`: a held lock ends it at once ("Another app is
 * currently holding the yum lock; exiting as configured by exit_on_lock") instead of waiting
 * forever, and the driver waits with a timeout.
 */
import { filterArgs, pinArgs } from '../rpm-common/commands.js';
import type { UpgradeFilters } from '../rpm-common/tool.js';

const YUM = ['env', 'LC_ALL=C', 'yum', '--setopt=exit_on_lock=1'] as const;

export const YUM_PID_FILE = '/var/run/yum.pid';
export const YUM_CONF = '/etc/yum.conf';
/** yum-plugin-versionlock's default `locklist`. */
export const VERSIONLOCK_LIST = '/etc/yum/pluginconf.d/versionlock.list';
/** yum-utils; `-r` and `-s` exist from yum-utils 1.1.31-40 (EL 7.3) on. */
export const NEEDS_RESTARTING = '/usr/bin/needs-restarting';

/** `makecache fast` expires every repository's metadata and downloads the primary data again. */
export function refreshCommand(): string[] {
  return [...YUM, '-q', 'makecache', 'fast'];
}

/**
 * `check-update` exits 100 when updates exist. `-d 0` instead of `-q`: since 2014 (BZ 1133979)
 * yum's check-update prints nothing at all with `-q`.
 */
export function availableCommand(): string[] {
  return [...YUM, '-d', '0', 'check-update'];
}

/** Security advisories for installed packages that have updates (built in on EL7; EL6 needs yum-plugin-security). */
export function securityCommand(): string[] {
  return [...YUM, '-q', 'updateinfo', 'list', 'security'];
}

export function checkCommand(): string[] {
  return [...YUM, '-q', 'check'];
}

/**
 * Prints the transaction table and answers no. `autosavets=0` (EL 7.3+; older yum warns and
 * ignores it) stops yum from leaving a /tmp/yum_save_tx.*.yumtx file behind on every dry run.
 */
export function planCommand(filters: UpgradeFilters): string[] {
  return [...YUM, '--assumeno', '--setopt=autosavets=0', ...filterArgs(filters), 'update'];
}

export function upgradeCommand(filters: UpgradeFilters): string[] {
  return [...YUM, '-y', ...filterArgs(filters), 'update', ...pinArgs(filters.pins)];
}

export function needsRestartingPresentCommand(): string[] {
  return ['test', '-x', NEEDS_RESTARTING];
}

export function needsRestartingCommand(mode: 'reboot' | 'services'): string[] {
  return ['env', 'LC_ALL=C', NEEDS_RESTARTING, mode === 'reboot' ? '-r' : '-s'];
}
