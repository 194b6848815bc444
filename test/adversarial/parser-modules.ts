/**
 * Every function that reads guest text, found from the source tree: each exported function of the
 * parser modules below is called with adversarial text. A parser module is any `parse*.ts` under
 * daemon/drivers plus the readers listed in EXTRA_MODULES; exports that take already-parsed values
 * (not guest text) are named in NOT_TEXT, each with its reason, so a new export is never skipped
 * by accident.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
const DRIVERS = join(ROOT, 'daemon/drivers');

/** Guest-text readers that are not named parse*.ts. */
export const EXTRA_MODULES = [
  'daemon/drivers/os-release.ts',
  'daemon/drivers/zypper/xml.ts',
  'daemon/drivers/apk/world.ts',
  'daemon/drivers/apk/kernel.ts',
  'daemon/drivers/pacman/kernel.ts',
  'daemon/drivers/rpm-common/rpmvercmp.ts',
  'daemon/drivers/shared/glob.ts',
  'daemon/engine/disk.ts',
  'daemon/engine/verify/parse.ts',
  'daemon/transports/qga/runner.ts',
  'daemon/pbs/parse.ts',
  'daemon/hooks/overrides.ts',
];

/** Exports of parser modules that take parsed values, not text — and why. */
export const NOT_TEXT: Readonly<Record<string, string>> = {
  repositoryOf: 'looks up a parsed apk policy map',
  mergeUpdates: 'merges parsed pacman lines and plan',
  adminHoldNames: 'formats a parsed pacman IgnorePkg config',
  neededSecurityPatches: 'filters parsed zypper patches',
  isPlainPackageLock: 'inspects a parsed zypper lock',
  describeLock: 'formats a parsed zypper lock',
  lockMatches: 'matches a parsed zypper lock (the glob itself is globMatches, tested as text)',
  pinWorld: 'writes a world from parsed entries and validated versions',
  adminHolds: 'filters parsed apk world entries',
  parseAttributes: 'reads one start tag that parseXml has already cut out (parseXml is tested)',
  descendants: 'walks a tree parseXml built',
  child: 'walks a tree parseXml built',
  messages: 'walks a tree parseXml built',
  diffFailed: 'compares two parsed unit lists',
  systemdAbsence: 'reads an ExecResult (its stderr is bounded by GuestExec and only searched with includes)',
  serverVersionOf: 'picks from parsed version lines',
  taskItems: 'checks the shape of already-parsed JSON',
  describeTask: 'formats a parsed PBS task',
  jobDir: 'makes a random name, reads nothing',
  resultLine: 'reads an ExecResult: a slice of at most 512 characters of its bounded output',
};

/** Which fixture folders hold the real output a module's family prints. */
export function fixtureDirsFor(module: string): string[] {
  if (module.includes('/apt/')) return ['apt'];
  if (module.includes('/apk/')) return ['apk'];
  if (module.includes('/dnf/') || module.includes('/yum/') || module.includes('/rpm-common/')) return ['dnf', 'yum'];
  if (module.includes('/pacman/')) return ['pacman'];
  if (module.includes('/zypper/')) return ['zypper'];
  return ['apt', 'apk', 'dnf', 'yum', 'pacman', 'zypper'];
}

function parseFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return parseFiles(path);
    return /^parse.*\.ts$/.test(name) ? [relative(ROOT, path)] : [];
  });
}

export function parserModules(): string[] {
  return [...parseFiles(DRIVERS), ...EXTRA_MODULES].sort();
}

export type TextParser = (a: string, b: string) => unknown;

export interface Parser {
  /** `daemon/drivers/apt/parse.ts#parseSimulation`. */
  id: string;
  module: string;
  fn: TextParser;
}

/** Imports every parser module and returns its text parsers (every exported function not in NOT_TEXT). */
export async function loadParsers(modules: readonly string[] = parserModules()): Promise<Parser[]> {
  const parsers: Parser[] = [];
  for (const module of modules) {
    const exports = (await import(join(ROOT, module))) as Record<string, unknown>;
    for (const [name, value] of Object.entries(exports)) {
      if (typeof value !== 'function' || name in NOT_TEXT || /^[A-Z]/.test(name)) continue;
      if (value.constructor.name === 'AsyncFunction') {
        throw new Error(
          `${module} exports the async function ${name}: a parser module holds only synchronous text parsers - move guest I/O to a module of its own`,
        );
      }
      parsers.push({ id: `${module}#${name}`, module, fn: value as TextParser });
    }
  }
  return parsers;
}
