/**
 * One guest operation per function: run an argv from commands.ts through the exec layer, decide
 * what its exit code means, and parse the output with parse.ts.
 */
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import { readRebootWithKernel } from '../shared/kernel.js';
import type { DriverContext } from '../types.js';
import * as cmd from './commands.js';
import { archKernels } from './kernel.js';
import { runLocked } from './lock.js';
import * as parse from './parse.js';

const REFRESH_TIMEOUT_MS = 600_000;

/** 'patch-failed' with pacman's own reason (`unable to <verb> - <cause>`). */
export function pacmanFailure(verb: string, res: ExecResult): PvepatchError {
  const cause = parse.failureCause(`${res.stdout}\n${res.stderr}`) ?? `exit code ${res.exitCode ?? res.signal}`;
  return new PvepatchError('patch-failed', `unable to ${verb} - ${cause}`, { details: { exitCode: res.exitCode } });
}

export async function refresh(ctx: DriverContext): Promise<void> {
  const verb = 'refresh package databases';
  const res = await runLocked(ctx, verb, cmd.refreshCommand(), { timeoutMs: REFRESH_TIMEOUT_MS });
  if (res.exitCode !== 0) throw pacmanFailure(verb, res);
}

/** `pacman -Qu`: exit 1 with nothing on stderr is "nothing pending", not an error. */
export async function readPending(ctx: DriverContext): Promise<parse.PendingLine[]> {
  const res = await ctx.exec.run(cmd.pendingCommand());
  if (res.exitCode === 1 && res.stdout.trim() === '' && res.stderr.trim() === '') return [];
  if (res.exitCode !== 0) throw pacmanFailure('list pending updates', res);
  return parse.parsePending(res.stdout);
}

/** `pacman -Su --print`: what the upgrade would install; fails as the upgrade would (dependencies). */
export async function readPlan(
  ctx: DriverContext,
  exclude: readonly string[],
): Promise<{ plan: Map<string, parse.PlannedPackage>; output: string }> {
  const res = await ctx.exec.run(cmd.planCommand(exclude));
  if (res.exitCode !== 0) throw pacmanFailure('plan the upgrade', res);
  return { plan: parse.parsePlan(res.stdout), output: res.stdout };
}

export async function readVersions(ctx: DriverContext): Promise<Map<string, string>> {
  const res = await ctx.exec.run(cmd.versionsCommand());
  if (res.exitCode !== 0) throw pacmanFailure('read installed versions', res);
  return parse.parseVersions(res.stdout);
}

/** IgnorePkg/IgnoreGroup from the guest's pacman.conf, read by pacman-conf itself. */
export async function readAdminHolds(ctx: DriverContext): Promise<string[]> {
  const res = await ctx.exec.run(cmd.ignoreConfigCommand());
  if (res.exitCode !== 0) {
    const why = res.stderr.trim().split('\n')[0] || `exit code ${res.exitCode}`;
    throw new PvepatchError('patch-failed', `unable to read pacman.conf - ${why}`);
  }
  return parse.adminHoldNames(parse.parseIgnoreConfig(res.stdout));
}

/** /run/reboot-required(.pkgs) plus the running kernel against its installed package. */
export async function readReboot(
  ctx: DriverContext,
  installed?: Map<string, string>,
): Promise<{ required: boolean; packages: string[] }> {
  return readRebootWithKernel(ctx, archKernels, installed ?? (await readVersions(ctx)));
}
