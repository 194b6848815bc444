/**
 * One guest operation per function: run an argv from commands.ts through the exec layer, decide
 * what its exit code means, and parse the output with parse.ts.
 */

import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import {
  type LockHolder,
  lockedError,
  lockWaitSeconds,
  retryWhileLocked,
  runSelfWaiting,
} from '../shared/lock-wait.js';
import { readRebootFlag } from '../shared/reboot-flag.js';
import type { DriverContext } from '../types.js';
import * as cmd from './commands.js';
import * as parse from './parse.js';

const REFRESH_TIMEOUT_MS = 600_000;

const UNKNOWN_HOLDER: LockHolder = { kind: 'dpkg lock', lock: cmd.DPKG_FRONTEND_LOCK, pid: null, process: null };

/** The holder apt/dpkg named, when the output is a lock failure; null otherwise. */
function lockOf(res: ExecResult): LockHolder | null {
  if (res.exitCode === 0) return null;
  const output = `${res.stdout}\n${res.stderr}`;
  return parse.isLockFailure(output) ? (parse.parseLockHolder(output) ?? UNKNOWN_HOLDER) : null;
}

/** A failure message for a non-zero apt exit: a lock holder ('locked') or apt's last `E:` line. */
export function aptFailure(verb: string, res: ExecResult, waitSeconds: number): PvepatchError {
  const holder = lockOf(res);
  if (holder) return lockedError(verb, holder, waitSeconds * 1000);
  const cause = parse.lastAptError(`${res.stdout}\n${res.stderr}`) ?? `exit code ${res.exitCode ?? res.signal}`;
  return new PvepatchError('patch-failed', `unable to ${verb} - ${cause}`, { details: { exitCode: res.exitCode } });
}

/** Runs an apt-get argv built for the lock wait left (apt waits itself, DPkg::Lock::Timeout). */
export function aptGet(
  ctx: DriverContext,
  verb: string,
  build: (waitSeconds: number) => string[],
  opts: { timeoutMs?: number; stream?: boolean; changes?: boolean } = {},
): Promise<ExecResult> {
  return runSelfWaiting(ctx, verb, build, lockOf, opts);
}

export async function refresh(ctx: DriverContext): Promise<void> {
  const verb = 'refresh package lists';
  const res = await aptGet(ctx, verb, cmd.refreshCommand, { timeoutMs: REFRESH_TIMEOUT_MS });
  for (const line of parse.parseWarnings(res.stderr)) ctx.log?.(line);
  if (res.exitCode !== 0) throw aptFailure(verb, res, lockWaitSeconds(ctx));
}

export async function simulate(ctx: DriverContext): Promise<parse.Simulation & { output: string }> {
  const res = await ctx.exec.run(cmd.simulateCommand());
  if (res.exitCode !== 0) throw aptFailure('list updates', res, 0);
  const sim = parse.parseSimulation(res.stdout);
  for (const line of sim.unparsed.slice(0, 20)) ctx.log?.(`unparsed apt line: ${line}`);
  return { ...sim, output: res.stdout };
}

export async function readVersions(ctx: DriverContext): Promise<Map<string, string>> {
  return parse.parseDpkgQuery(await queryPackages(ctx));
}

/** Installed versions and the admin's holds from one `dpkg-query` (the hold is the selection state). */
export async function readState(ctx: DriverContext): Promise<{ versions: Map<string, string>; holds: string[] }> {
  const stdout = await queryPackages(ctx);
  return { versions: parse.parseDpkgQuery(stdout), holds: parse.parseDpkgHolds(stdout) };
}

/** `dpkg-query -W`: one line per known package with its version and status. */
async function queryPackages(ctx: DriverContext): Promise<string> {
  const res = await ctx.exec.run(cmd.versionsCommand());
  if (res.exitCode !== 0) throw aptFailure('read installed versions', res, 0);
  return res.stdout;
}

export async function audit(ctx: DriverContext): Promise<parse.AuditResult> {
  const res = await ctx.exec.run(cmd.auditCommand());
  // dpkg --audit exits 0 when it finds problems; another exit code means it could not look
  if (res.exitCode !== 0) throw aptFailure('audit packages', res, 0);
  return parse.parseAudit(res.stdout);
}

/**
 * Waits for the dpkg lock like the upgrade would and changes nothing. Returns the failure (a
 * 'locked' error naming the holder, or apt's dependency complaint), or null when apt is usable.
 */
export async function probeLock(ctx: DriverContext, verb: string): Promise<PvepatchError | null> {
  try {
    const res = await aptGet(ctx, verb, cmd.lockProbeCommand);
    return res.exitCode === 0 ? null : aptFailure(verb, res, lockWaitSeconds(ctx));
  } catch (err) {
    if (err instanceof PvepatchError && err.code === 'locked') return err;
    throw err;
  }
}

/**
 * `apt-mark hold|unhold`; throws on a non-zero exit. apt-mark does not wait for the dpkg lock
 * (its `dpkg --set-selections` fails at once), so the shared loop waits and runs it again.
 */
export async function mark(ctx: DriverContext, verb: 'hold' | 'unhold', names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const argv = verb === 'hold' ? cmd.holdCommand(names) : cmd.unholdCommand(names);
  const what = `${verb} packages ${names.join(', ')}`;
  const res = await retryWhileLocked(ctx, { verb: what, attempt: () => ctx.exec.run(argv, { changes: true }), lockOf });
  if (res.exitCode !== 0) throw aptFailure(what, res, lockWaitSeconds(ctx));
}

export function readReboot(ctx: DriverContext): Promise<{ required: boolean; packages: string[] }> {
  return readRebootFlag(ctx, cmd.REBOOT_REQUIRED_FILE);
}
