/**
 * One guest operation per function: run an argv from commands.ts through the transport, decide
 * what its exit code means, and parse the output with parse.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import type { DriverContext } from '../types.js';
import * as cmd from './commands.js';
import { checkKernel } from './kernel.js';
import { lockedError, lockTimeoutMs, pollMs, waitForUnlock } from './lock.js';
import * as parse from './parse.js';
import { output, type RunOptions, run } from './run.js';

const REFRESH_TIMEOUT_MS = 600_000;

/** 'patch-failed' with pacman's own reason (`unable to <verb> - <cause>`). */
export function pacmanFailure(verb: string, res: ExecResult): PvepatchError {
  const cause = parse.failureCause(output(res)) ?? `exit code ${res.exitCode ?? res.signal}`;
  return new PvepatchError('patch-failed', `unable to ${verb} - ${cause}`, { details: { exitCode: res.exitCode } });
}

/**
 * Runs a locking pacman command (-Syy, -Su) once db.lck is gone. pacman does not wait for its
 * lock, so when another pacman takes it between the poll and the start, this waits again
 * within the same deadline instead of failing at once.
 */
export async function runLocked(
  ctx: DriverContext,
  verb: string,
  argv: readonly string[],
  opts: RunOptions = {},
): Promise<ExecResult> {
  const deadline = Date.now() + lockTimeoutMs(ctx);
  for (;;) {
    await waitForUnlock(ctx, verb, deadline);
    const res = await run(ctx, argv, opts);
    if (res.exitCode === 0 || !parse.isLockFailure(output(res))) return res;
    if (Date.now() >= deadline) throw await lockedError(ctx, verb);
    ctx.log?.('pacman found its database locked - waiting for the lock again');
    await sleep(pollMs(lockTimeoutMs(ctx)));
  }
}

export async function refresh(ctx: DriverContext): Promise<void> {
  const res = await runLocked(ctx, 'refresh package databases', cmd.refreshCommand(), {
    timeoutMs: REFRESH_TIMEOUT_MS,
  });
  if (res.exitCode !== 0) throw pacmanFailure('refresh package databases', res);
}

/** `pacman -Qu`: exit 1 with nothing on stderr is "nothing pending", not an error. */
export async function readPending(ctx: DriverContext): Promise<parse.PendingLine[]> {
  const res = await run(ctx, cmd.pendingCommand());
  if (res.exitCode === 1 && res.stdout.trim() === '' && res.stderr.trim() === '') return [];
  if (res.exitCode !== 0) throw pacmanFailure('list pending updates', res);
  return parse.parsePending(res.stdout);
}

/** `pacman -Su --print`: what the upgrade would install; fails as the upgrade would (dependencies). */
export async function readPlan(
  ctx: DriverContext,
  exclude: readonly string[],
): Promise<{ plan: Map<string, parse.PlannedPackage>; output: string }> {
  const res = await run(ctx, cmd.planCommand(exclude));
  if (res.exitCode !== 0) throw pacmanFailure('plan the upgrade', res);
  return { plan: parse.parsePlan(res.stdout), output: res.stdout };
}

export async function readVersions(ctx: DriverContext): Promise<Map<string, string>> {
  const res = await run(ctx, cmd.versionsCommand());
  if (res.exitCode !== 0) throw pacmanFailure('read installed versions', res);
  return parse.parseVersions(res.stdout);
}

/** IgnorePkg/IgnoreGroup from the guest's pacman.conf, read by pacman-conf itself. */
export async function readAdminHolds(ctx: DriverContext): Promise<string[]> {
  const res = await run(ctx, cmd.ignoreConfigCommand());
  if (res.exitCode !== 0) {
    const why = res.stderr.trim() || `exit code ${res.exitCode}`;
    throw new PvepatchError('patch-failed', `unable to read pacman.conf - ${why}`);
  }
  return parse.adminHoldNames(parse.parseIgnoreConfig(res.stdout));
}

/** /run/reboot-required(.pkgs) plus the running kernel against its installed package. */
export async function readReboot(
  ctx: DriverContext,
  installed?: Map<string, string>,
): Promise<{ required: boolean; packages: string[] }> {
  const flag = await run(ctx, cmd.rebootRequiredCommand());
  const list = await run(ctx, cmd.rebootPackagesCommand());
  const packages = list.exitCode === 0 ? parse.parseNameList(list.stdout) : [];
  const uname = await run(ctx, cmd.kernelReleaseCommand());
  const kernel = checkKernel(uname.stdout, installed ?? (await readVersions(ctx)));
  if (kernel.skipped) ctx.log?.(`kernel check skipped - ${kernel.skipped}`);
  if (kernel.package && !packages.includes(kernel.package)) packages.push(kernel.package);
  return { required: flag.exitCode === 0 || kernel.outdated, packages };
}

/** Pending .pacnew files with their ctimes; find's exit 1 (an unreadable dir) still lists the rest. */
export async function readConffiles(ctx: DriverContext): Promise<Map<string, string>> {
  const res = await run(ctx, cmd.conffilesCommand());
  return parse.parseConffiles(res.stdout);
}
