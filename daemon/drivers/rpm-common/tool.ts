/**
 * What differs between dnf and yum is a flavour: its argv, its lock messages and probe, and a few
 * answers it gives differently. `rpmTool` builds the operations the rpm-family driver sequence
 * (family.ts, upgrade.ts) calls from a flavour, once for both.
 */

import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import type { GuestRunOptions } from '../shared/guest-exec.js';
import { type LockHolder, retryWhileLocked, waitUntilFree } from '../shared/lock-wait.js';
import type { DriverContext } from '../types.js';
import { parseCheck, parseRebootHint, parseServices, parseUpdateinfoList, type RebootHint } from './parse.js';
import { parseMainExcludes, parseVersionlock } from './parse-holds.js';
import { type ListedPackage, parseTransactionTable, type TableEntry } from './parse-table.js';
import * as rs from './steps.js';

/** What the upgrade is restricted to; names are validated again where they become arguments. */
export interface UpgradeFilters {
  exclude: readonly string[];
  securityOnly: boolean;
  /** An approved plan's versions (`name-[epoch:]version-release`): upgrade exactly these. */
  pins?: Readonly<Record<string, string>>;
}

export interface TransactionPlan {
  entries: TableEntry[];
  output: string;
}

export interface RpmFlavour {
  name: 'dnf' | 'yum';
  /** The flavour's commands.ts module: the argv builders, by the same names in both. */
  argv: {
    refreshCommand(): string[];
    availableCommand(): string[];
    securityCommand(): string[];
    checkCommand(): string[];
    planCommand(filters: UpgradeFilters): string[];
    upgradeCommand(filters: UpgradeFilters): string[];
    needsRestartingCommand(mode: 'reboot' | 'services'): string[];
  };
  /** The main config with the admin's `exclude=` and the versionlock plugin's list. */
  conf: string;
  versionlockList: string;
  /** Exit codes of `available` that mean "answered" (yum's check-update: 100 = updates listed). */
  availableCodes: readonly number[];
  parseAvailable(stdout: string): ListedPackage[];
  /** The lock a failed command names (its own pid-file lock or rpm's), or null. */
  lockOf(output: string): LockHolder | null;
  probeLocks(ctx: DriverContext): Promise<LockHolder | null>;
  /** The plan command printed its table and answered "no" as asked (it then exits 1). */
  planDeclined(res: ExecResult): boolean;
  /** Where the transaction table is (yum prints it through its warning logger on stderr). */
  planText(res: ExecResult): string;
  /** The flavour's reason for a failure, or null to use the shared one. */
  failureCause?(res: ExecResult): string | null;
  /** Whether the guest has updateinfo at all; without it nothing is flagged (logged). */
  noUpdateinfo?(res: ExecResult): boolean;
  /** Whether needs-restarting can be asked (yum-utils may be absent; dnf answers "No such command"). */
  hasNeedsRestarting?(ctx: DriverContext): Promise<boolean>;
}

export interface RpmTool {
  readonly name: string;
  /** Downloads fresh repository metadata; waits out a held lock, then throws 'locked'. */
  refresh(ctx: DriverContext): Promise<void>;
  /** The newest pending update per package, as the package manager would pick it (its excludes applied). */
  available(ctx: DriverContext): Promise<ListedPackage[]>;
  /** Names that have a pending security advisory. */
  securityNames(ctx: DriverContext): Promise<Set<string>>;
  /** Problems in the rpm database, one line each ([] when none). */
  check(ctx: DriverContext): Promise<string[]>;
  /** The transaction an upgrade with these filters would run; changes nothing. */
  plan(ctx: DriverContext, filters: UpgradeFilters): Promise<TransactionPlan>;
  /** Runs the upgrade; returns its output. Throws 'patch-failed' or, after the wait, 'locked'. */
  upgrade(ctx: DriverContext, filters: UpgradeFilters, timeoutMs: number): Promise<string>;
  /** Waits for the package manager's and rpm's locks; the holder still there after the wait, or null. */
  waitForLocks(ctx: DriverContext): Promise<LockHolder | null>;
  /** `needs-restarting -r`; null when the guest has no usable needs-restarting. */
  rebootHint(ctx: DriverContext): Promise<RebootHint | null>;
  /** `needs-restarting -s`; null when unavailable. */
  services(ctx: DriverContext): Promise<string[] | null>;
  /** Holds the admin configured (config excludes, versionlock entries). */
  adminHolds(ctx: DriverContext): Promise<string[]>;
}

export function rpmTool(f: RpmFlavour): RpmTool {
  /** Runs an argv, waiting out locks; a non-zero exit that is not a lock is returned. */
  const run = (ctx: DriverContext, verb: string, argv: string[], opts: GuestRunOptions = {}) =>
    retryWhileLocked(ctx, {
      verb,
      attempt: () => ctx.exec.run(argv, { timeoutMs: rs.REFRESH_TIMEOUT_MS, ...opts }),
      lockOf: (res) => (res.exitCode === 0 || res.exitCode === 100 ? null : f.lockOf(`${res.stdout}\n${res.stderr}`)),
      probe: f.probeLocks,
    });
  const failed = (verb: string, res: ExecResult) => {
    const own = f.failureCause?.(res);
    if (!own) return rs.failed(verb, res);
    return new PvepatchError('patch-failed', `unable to ${verb} - ${own}`, { details: { exitCode: res.exitCode } });
  };
  const ok = async (ctx: DriverContext, verb: string, argv: string[], opts: GuestRunOptions = {}) => {
    const res = await run(ctx, verb, argv, opts);
    if (res.exitCode !== 0) throw failed(verb, res);
    return res;
  };
  const needsRestarting = async (ctx: DriverContext, mode: 'reboot' | 'services') =>
    (await (f.hasNeedsRestarting?.(ctx) ?? true)) ? ctx.exec.run(f.argv.needsRestartingCommand(mode)) : null;
  return {
    name: f.name,
    refresh: async (ctx) => void (await ok(ctx, 'refresh package metadata', f.argv.refreshCommand())),
    async available(ctx) {
      const res = await run(ctx, 'list updates', f.argv.availableCommand());
      if (res.exitCode !== 0 && !f.availableCodes.includes(res.exitCode ?? -1)) throw failed('list updates', res);
      return f.parseAvailable(res.stdout);
    },
    async securityNames(ctx) {
      const verb = 'list security advisories';
      const res = await run(ctx, verb, f.argv.securityCommand());
      if (res.exitCode !== 0 && f.noUpdateinfo?.(res)) {
        ctx.log?.(`warning: this ${f.name} has no updateinfo command - no security flags`);
        return new Set<string>();
      }
      if (res.exitCode !== 0) throw failed(verb, res);
      return new Set(
        parseUpdateinfoList(res.stdout)
          .filter((a) => a.security)
          .map((a) => a.name),
      );
    },
    /** `check` exits 1 with the problems on stdout; exit 1 with nothing there is a failure to look. */
    async check(ctx) {
      const verb = 'check the package database';
      const res = await run(ctx, verb, f.argv.checkCommand(), { timeoutMs: 120_000 });
      const problems = parseCheck(res.stdout);
      if (res.exitCode !== 0 && problems.length === 0) throw failed(verb, res);
      return problems;
    },
    async plan(ctx, filters) {
      const verb = 'plan the upgrade';
      const res = await run(ctx, verb, f.argv.planCommand(filters));
      if (res.exitCode !== 0 && !f.planDeclined(res)) throw failed(verb, res);
      const table = parseTransactionTable(f.planText(res));
      for (const row of table.unparsed.slice(0, 20)) ctx.log?.(`unparsed ${f.name} row: ${row}`);
      return { entries: table.entries, output: `${res.stdout}${res.stderr}` };
    },
    async upgrade(ctx, filters, timeoutMs) {
      const res = await ok(ctx, 'upgrade packages', f.argv.upgradeCommand(filters), {
        timeoutMs,
        stream: true,
        changes: true,
      });
      return `${res.stdout}${res.stderr}`;
    },
    waitForLocks: (ctx) => waitUntilFree(ctx, f.probeLocks),
    /** An optional tool: "No such command" (or any other non-answer) is null, not an error. */
    rebootHint: async (ctx) => {
      const res = await needsRestarting(ctx, 'reboot');
      return res ? parseRebootHint(res.stdout) : null;
    },
    services: async (ctx) => {
      const res = await needsRestarting(ctx, 'services');
      return res?.exitCode === 0 ? parseServices(res.stdout) : null;
    },
    async adminHolds(ctx) {
      const excludes = parseMainExcludes(await rs.readOptionalFile(ctx, f.conf));
      const locks = parseVersionlock(await rs.readOptionalFile(ctx, f.versionlockList));
      return [...new Set([...excludes, ...locks])];
    },
  };
}
