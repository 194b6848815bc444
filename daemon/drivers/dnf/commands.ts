/**
 * Argv builders for dnf guests. Every builder returns a fresh string array; nothing is ever joined
 * into a shell string. dnf always runs as `env LC_ALL=C dnf --setopt=exit_on_lock=True …`: the
 * parsers read C-locale messages, and a held lock makes dnf exit 200 at once instead of waiting
 * forever (the driver does the waiting, with a timeout).
 */
import { filterArgs, pinArgs } from '../rpm-common/commands.js';
import type { UpgradeFilters } from '../rpm-common/tool.js';
import { DNF_LOCK_FILES } from './parse.js';

const DNF = ['env', 'LC_ALL=C', 'dnf', '--setopt=exit_on_lock=True'] as const;

export const DNF_CONF = '/etc/dnf/dnf.conf';
/** The versionlock plugin's default `locklist`. */
export const VERSIONLOCK_LIST = '/etc/dnf/plugins/versionlock.list';
/** dnf's pid-file locks that matter to a patch run (the log-rotation lock never blocks one). */
export const DNF_PID_FILES = [DNF_LOCK_FILES.RPMDB, DNF_LOCK_FILES.metadata, DNF_LOCK_FILES.cachedir] as string[];

/** Expires the metadata and downloads it again (`makecache` alone is a no-op while it is fresh). */
export function refreshCommand(): string[] {
  return [...DNF, '-q', '--refresh', 'makecache'];
}

/** The newest upgrade per name.arch, honouring excludes and versionlock; one tab-separated line each. */
export function availableCommand(): string[] {
  return [
    ...DNF,
    '-q',
    'repoquery',
    '--upgrades',
    '--latest-limit=1',
    '--qf',
    '%{name}\\t%{arch}\\t%{evr}\\t%{repoid}',
  ];
}

/** Security advisories for packages that have an update. */
export function securityCommand(): string[] {
  return [...DNF, '-q', 'updateinfo', 'list', '--security', '--updates'];
}

/** Problems in the rpm database (missing requires, duplicates, obsoleted packages). */
export function checkCommand(): string[] {
  return [...DNF, '-q', 'check'];
}

/** Resolves the upgrade and prints its transaction table, then answers no: nothing is downloaded or changed. */
export function planCommand(filters: UpgradeFilters): string[] {
  return [...DNF, '--assumeno', ...filterArgs(filters), 'upgrade'];
}

export function upgradeCommand(filters: UpgradeFilters): string[] {
  return [...DNF, '-y', ...filterArgs(filters), 'upgrade', ...pinArgs(filters.pins)];
}

/** dnf-plugins-core's `needs-restarting`; `dnf` says "No such command" when the plugin is absent. */
export function needsRestartingCommand(mode: 'reboot' | 'services'): string[] {
  return [...DNF, '-q', 'needs-restarting', mode === 'reboot' ? '-r' : '-s'];
}
