/**
 * rpm-level argv builders shared by the dnf and yum drivers. Every builder returns a fresh string
 * array; nothing is ever joined into a shell string.
 */
import { assertPackageNames, assertVersion } from '../../core/validate.js';

/** `.rpmnew` (package's version beside the kept edit) and `.rpmsave` (edit saved aside). */
export const CONFFILE_SUFFIXES = ['.rpmnew', '.rpmsave'] as const;

/** One line per installed package: name, arch, `[E:]V-R`, tab-separated. */
export function installedCommand(): string[] {
  return [
    'env',
    'LC_ALL=C',
    'rpm',
    '-qa',
    '--qf',
    '%{NAME}\\t%{ARCH}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n',
  ];
}

/** Verifies the rpm database; rpm >= 4.14 takes a read lock for it, so a running transaction shows. */
export function verifyDbCommand(): string[] {
  return ['env', 'LC_ALL=C', 'rpm', '--verifydb'];
}

export function unameCommand(): string[] {
  return ['uname', '-r'];
}

/** The first line of a pid file (`head -n 1`: a hostile pid file cannot make the daemon read more). */
export function pidFileCommand(file: string): string[] {
  return ['head', '-n', '1', '--', file];
}

/** The command name of a process, which also tells whether it still runs. */
export function processNameCommand(pid: number): string[] {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`invalid pid ${pid}`);
  return ['cat', `/proc/${pid}/comm`];
}

export function readFileCommand(path: string): string[] {
  return ['cat', '--', path];
}

/** `--security` and one `--exclude=<name>` per exclusion (dnf and yum spell them alike). */
export function filterArgs(filters: { exclude: readonly string[]; securityOnly: boolean }): string[] {
  const args = filters.securityOnly ? ['--security'] : [];
  for (const name of assertPackageNames(filters.exclude)) args.push(`--exclude=${name}`);
  return args;
}

/** An approved plan's packages as `name-[epoch:]version-release` specs (after `--`), or none. */
export function pinArgs(pins: Readonly<Record<string, string>> | undefined): string[] {
  const specs = Object.entries(pins ?? {}).map(([n, v]) => `${assertPackageNames([n])[0]}-${assertVersion(v)}`);
  return specs.length > 0 ? ['--', ...specs] : [];
}
