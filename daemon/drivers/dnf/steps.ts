/**
 * The dnf side of RpmTool: one dnf operation per function, its exit code judged here. Every dnf
 * command runs with `exit_on_lock`, so a held lock ends it at once (exit 200, or rpm's "can't
 * create transaction lock"); `retryWhileLocked` then waits on the probe and runs it again.
 */
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import type { DriverContext } from '../types.js';
import * as cmd from './commands.js';
import { parseMainExcludes, parseVersionlock } from './holds.js';
import { type LockHolder, retryWhileLocked, waitForLock } from './lock.js';
import * as parse from './parse.js';
import * as rs from './rpm-steps.js';
import { failureCause, REFRESH_TIMEOUT_MS, type RunOptions, run } from './run.js';
import { parseTransactionTable } from './table.js';
import type { RpmTool, TransactionPlan, UpgradeFilters } from './tool.js';

/** dnf's pid-file locks first (cheap, and they name the holder), then rpm's transaction lock. */
export async function probeLocks(ctx: DriverContext): Promise<LockHolder | null> {
  const own = await rs.pidFileHolder(ctx, cmd.DNF_PID_FILES, 'dnf lock');
  if (own) return own;
  const db = await rs.verifyDb(ctx);
  return db.lock ? rs.rpmLockHolder(db.lock) : null;
}

/** Runs a dnf argv, waiting out locks; a non-zero exit that is not a lock is returned. */
function dnf(ctx: DriverContext, verb: string, argv: string[], opts: RunOptions = {}): Promise<ExecResult> {
  return retryWhileLocked(ctx, {
    verb,
    attempt: () => run(ctx, argv, opts),
    lockOf: (res) => (res.exitCode === 0 ? null : parse.parseDnfLock(`${res.stdout}\n${res.stderr}`)),
    probe: probeLocks,
  });
}

function failed(verb: string, res: ExecResult): PvepatchError {
  return new PvepatchError('patch-failed', `unable to ${verb} - ${failureCause(res)}`, {
    details: { exitCode: res.exitCode },
  });
}

async function refresh(ctx: DriverContext): Promise<void> {
  const verb = 'refresh package metadata';
  const res = await dnf(ctx, verb, cmd.refreshCommand(), { timeoutMs: REFRESH_TIMEOUT_MS });
  if (res.exitCode !== 0) throw failed(verb, res);
}

async function available(ctx: DriverContext) {
  const verb = 'list updates';
  const res = await dnf(ctx, verb, cmd.availableCommand(), { timeoutMs: REFRESH_TIMEOUT_MS });
  if (res.exitCode !== 0) throw failed(verb, res);
  return parse.parseRepoquery(res.stdout);
}

async function securityNames(ctx: DriverContext): Promise<Set<string>> {
  const verb = 'list security advisories';
  const res = await dnf(ctx, verb, cmd.securityCommand(), { timeoutMs: REFRESH_TIMEOUT_MS });
  if (res.exitCode !== 0) throw failed(verb, res);
  return new Set(
    parse
      .parseUpdateinfoList(res.stdout)
      .filter((a) => a.security)
      .map((a) => a.name),
  );
}

/** `dnf check` exits 1 with the problems on stdout; exit 1 with nothing there is a failure to look. */
async function check(ctx: DriverContext): Promise<string[]> {
  const verb = 'check the package database';
  const res = await dnf(ctx, verb, cmd.checkCommand());
  const problems = parse.parseCheck(res.stdout);
  if (res.exitCode !== 0 && problems.length === 0) throw failed(verb, res);
  return problems;
}

/** `--assumeno` exits 1 after "Operation aborted."; "Nothing to do." exits 0. */
async function plan(ctx: DriverContext, filters: UpgradeFilters): Promise<TransactionPlan> {
  const verb = 'plan the upgrade';
  const res = await dnf(ctx, verb, cmd.planCommand(filters), { timeoutMs: REFRESH_TIMEOUT_MS });
  const output = `${res.stdout}${res.stderr}`;
  if (res.exitCode !== 0 && !/^Operation aborted\.?$/m.test(res.stderr)) throw failed(verb, res);
  const table = parseTransactionTable(res.stdout);
  for (const row of table.unparsed) ctx.log?.(`unparsed dnf row: ${row}`);
  return { entries: table.entries, output };
}

async function upgrade(ctx: DriverContext, filters: UpgradeFilters, timeoutMs: number): Promise<string> {
  const verb = 'upgrade packages';
  const res = await dnf(ctx, verb, cmd.upgradeCommand(filters), { timeoutMs, stream: true });
  if (res.exitCode !== 0) throw failed(verb, res);
  return `${res.stdout}${res.stderr}`;
}

/** The plugin is optional: "No such command" (or any other non-answer) is null, not an error. */
async function rebootHint(ctx: DriverContext): Promise<parse.RebootHint | null> {
  return parse.parseRebootHint(await run(ctx, cmd.needsRestartingCommand('reboot')));
}

async function services(ctx: DriverContext): Promise<string[] | null> {
  const res = await run(ctx, cmd.needsRestartingCommand('services'));
  return res.exitCode === 0 ? parse.parseServices(res.stdout) : null;
}

async function adminHolds(ctx: DriverContext): Promise<string[]> {
  const excludes = parseMainExcludes(await rs.readOptionalFile(ctx, cmd.DNF_CONF));
  const locks = parseVersionlock(await rs.readOptionalFile(ctx, cmd.VERSIONLOCK_LIST));
  return [...new Set([...excludes, ...locks])];
}

export const dnfTool: RpmTool = {
  name: 'dnf',
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
