/**
 * The yum side of RpmTool (see dnf/tool.ts): one yum operation per function, its exit code judged
 * here. yum runs with `exit_on_lock`, so a held /var/run/yum.pid ends it at once; the shared
 * `retryWhileLocked` then probes the pid file and runs it again, up to the lock timeout.
 */
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import { parseMainExcludes, parseVersionlock } from '../dnf/holds.js';
import { type LockHolder, retryWhileLocked, waitForLock } from '../dnf/lock.js';
import { parseCheck, parseRebootHint, parseServices, parseUpdateinfoList, type RebootHint } from '../dnf/parse.js';
import * as rs from '../dnf/rpm-steps.js';
import { REFRESH_TIMEOUT_MS, type RunOptions, run } from '../dnf/run.js';
import { parseTransactionTable } from '../dnf/table.js';
import type { RpmTool, TransactionPlan, UpgradeFilters } from '../dnf/tool.js';
import type { DriverContext } from '../types.js';
import * as cmd from './commands.js';
import * as parse from './parse.js';

/**
 * yum's pid file names its holder. rpm 4.11 (EL7) takes no lock for `--verifydb`, so a bare rpm
 * transaction is only seen when a yum command fails on it (and is then retried).
 */
export function probeLocks(ctx: DriverContext): Promise<LockHolder | null> {
  return rs.pidFileHolder(ctx, [cmd.YUM_PID_FILE], 'yum lock');
}

function yum(ctx: DriverContext, verb: string, argv: string[], opts: RunOptions = {}): Promise<ExecResult> {
  return retryWhileLocked(ctx, {
    verb,
    attempt: () => run(ctx, argv, opts),
    lockOf: (res) =>
      res.exitCode === 0 || res.exitCode === 100 ? null : parse.parseYumLock(`${res.stdout}\n${res.stderr}`),
    probe: probeLocks,
  });
}

function failed(verb: string, res: ExecResult): PvepatchError {
  return new PvepatchError('patch-failed', `unable to ${verb} - ${parse.yumFailureCause(res)}`, {
    details: { exitCode: res.exitCode },
  });
}

async function refresh(ctx: DriverContext): Promise<void> {
  const verb = 'refresh package metadata';
  const res = await yum(ctx, verb, cmd.refreshCommand(), { timeoutMs: REFRESH_TIMEOUT_MS });
  if (res.exitCode !== 0) throw failed(verb, res);
}

/** check-update: 100 = updates listed, 0 = none, anything else an error. */
async function available(ctx: DriverContext) {
  const verb = 'list updates';
  const res = await yum(ctx, verb, cmd.availableCommand(), { timeoutMs: REFRESH_TIMEOUT_MS });
  if (res.exitCode === 0) return [];
  if (res.exitCode !== 100) throw failed(verb, res);
  return parse.parseCheckUpdate(res.stdout);
}

/** Without updateinfo support (EL6 without yum-plugin-security) nothing is flagged, with a warning. */
async function securityNames(ctx: DriverContext): Promise<Set<string>> {
  const verb = 'list security advisories';
  const res = await yum(ctx, verb, cmd.securityCommand(), { timeoutMs: REFRESH_TIMEOUT_MS });
  if (res.exitCode !== 0 && /No such command|no such option/i.test(`${res.stdout}\n${res.stderr}`)) {
    ctx.log?.('warning: this yum has no updateinfo command (install yum-plugin-security) - no security flags');
    return new Set();
  }
  if (res.exitCode !== 0) throw failed(verb, res);
  return new Set(
    parseUpdateinfoList(res.stdout)
      .filter((a) => a.security)
      .map((a) => a.name),
  );
}

async function check(ctx: DriverContext): Promise<string[]> {
  const verb = 'check the package database';
  const res = await yum(ctx, verb, cmd.checkCommand());
  const problems = parseCheck(res.stdout);
  if (res.exitCode !== 0 && problems.length === 0) throw failed(verb, res);
  return problems;
}

/** `--assumeno` ends with "Exiting on user command" (exit 1); "No packages marked for update" exits 0. */
async function plan(ctx: DriverContext, filters: UpgradeFilters): Promise<TransactionPlan> {
  const verb = 'plan the upgrade';
  const res = await yum(ctx, verb, cmd.planCommand(filters), { timeoutMs: REFRESH_TIMEOUT_MS });
  const output = `${res.stdout}${res.stderr}`;
  if (res.exitCode !== 0 && !/Exiting on user command/.test(output)) throw failed(verb, res);
  // with little verbosity yum prints the table through its warning logger, on stderr
  const table = parseTransactionTable(`${res.stdout}\n${res.stderr}`);
  for (const row of table.unparsed) ctx.log?.(`unparsed yum row: ${row}`);
  return { entries: table.entries, output };
}

async function upgrade(ctx: DriverContext, filters: UpgradeFilters, timeoutMs: number): Promise<string> {
  const verb = 'upgrade packages';
  const res = await yum(ctx, verb, cmd.upgradeCommand(filters), { timeoutMs, stream: true });
  if (res.exitCode !== 0) throw failed(verb, res);
  return `${res.stdout}${res.stderr}`;
}

async function hasNeedsRestarting(ctx: DriverContext): Promise<boolean> {
  return (await run(ctx, cmd.needsRestartingPresentCommand())).exitCode === 0;
}

/** yum-utils' needs-restarting, when installed and new enough for `-r`. */
async function rebootHint(ctx: DriverContext): Promise<RebootHint | null> {
  if (!(await hasNeedsRestarting(ctx))) return null;
  return parseRebootHint(await run(ctx, cmd.needsRestartingCommand('reboot')));
}

async function services(ctx: DriverContext): Promise<string[] | null> {
  if (!(await hasNeedsRestarting(ctx))) return null;
  const res = await run(ctx, cmd.needsRestartingCommand('services'));
  return res.exitCode === 0 ? parseServices(res.stdout) : null;
}

async function adminHolds(ctx: DriverContext): Promise<string[]> {
  const excludes = parseMainExcludes(await rs.readOptionalFile(ctx, cmd.YUM_CONF));
  const locks = parseVersionlock(await rs.readOptionalFile(ctx, cmd.VERSIONLOCK_LIST));
  return [...new Set([...excludes, ...locks])];
}

export const yumTool: RpmTool = {
  name: 'yum',
  refresh,
  available,
  securityNames,
  check,
  plan,
  upgrade,
  waitForLocks: (ctx) => waitForLock(ctx, probeLocks),
  rebootHint,
  services,
  adminHolds,
};
