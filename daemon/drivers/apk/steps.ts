/**
 * One guest operation per function: run an argv from commands.ts through the exec layer, decide
 * what its exit code means, and parse the output with parse.ts.
 */
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import { readRebootWithKernel } from '../shared/kernel.js';
import { type LockHolder, lockedError, lockTimeoutMs, runSelfWaiting } from '../shared/lock-wait.js';
import { parsePgrep } from '../shared/parse.js';
import type { DriverContext, PendingUpdate } from '../types.js';
import * as cmd from './commands.js';
import { alpineKernels } from './kernel.js';
import * as parse from './parse.js';

const REFRESH_TIMEOUT_MS = 600_000;

/** stdout and stderr together, for the message parsers (apk logs to stdout, errors to stderr). */
export function output(res: ExecResult): string {
  return `${res.stdout}\n${res.stderr}`;
}

const LOCK: LockHolder = { kind: 'apk lock', lock: cmd.APK_LOCK, pid: null, process: null };

/**
 * Runs an apk argv built for the lock wait left (apk waits itself, `--wait`); after the wait,
 * throws 'locked' naming a running apk when pgrep finds one.
 */
export async function apk(
  ctx: DriverContext,
  verb: string,
  build: (waitSeconds: number) => string[],
  opts: { timeoutMs?: number; stream?: boolean; changes?: boolean } = {},
): Promise<ExecResult> {
  try {
    const lockOf = (res: ExecResult) => (res.exitCode !== 0 && parse.isLockFailure(output(res)) ? LOCK : null);
    return await runSelfWaiting(ctx, verb, build, lockOf, opts);
  } catch (err) {
    if (!(err instanceof PvepatchError) || err.code !== 'locked') throw err;
    const probe = await ctx.exec.run(cmd.lockHolderCommand());
    const first = probe.exitCode === 0 ? parsePgrep(probe.stdout)[0] : undefined;
    const holder = first ? { ...LOCK, pid: first.pid, process: first.command.slice(0, 120) } : LOCK;
    throw lockedError(verb, holder, lockTimeoutMs(ctx));
  }
}

/** 'patch-failed' with apk's `ERROR:` lines (locks are 'locked' from `apk` above). */
export function apkFailure(verb: string, res: ExecResult): PvepatchError {
  const cause = parse.failureCause(output(res)) ?? `exit code ${res.exitCode ?? res.signal}`;
  return new PvepatchError('patch-failed', `unable to ${verb} - ${cause}`, { details: { exitCode: res.exitCode } });
}

/** `apk update`: a non-zero exit counts unavailable/stale indexes; a summary saying so fails too. */
export async function refresh(ctx: DriverContext): Promise<void> {
  const res = await apk(ctx, 'refresh package indexes', cmd.refreshCommand, { timeoutMs: REFRESH_TIMEOUT_MS });
  if (res.exitCode !== 0) throw apkFailure('refresh package indexes', res);
  const summary = parse.parseRefreshSummary(res.stdout);
  if (summary && summary.unavailable + summary.stale > 0) {
    const cause = parse.failureCause(output(res)) ?? `${summary.unavailable} unavailable, ${summary.stale} stale`;
    throw new PvepatchError('patch-failed', `unable to refresh package indexes - ${cause}`);
  }
}

/** `apk upgrade --simulate`: the changes the upgrade would make (no lock, nothing written). */
export async function simulate(ctx: DriverContext): Promise<{ changes: parse.SimulatedChange[]; output: string }> {
  const res = await ctx.exec.run(cmd.simulateCommand());
  for (const line of res.stderr.split('\n').slice(0, 50)) if (line.startsWith('WARNING: ')) ctx.log?.(line);
  if (res.exitCode !== 0) throw apkFailure('simulate the upgrade', res);
  return { changes: parse.parseChanges(res.stdout), output: res.stdout };
}

/** Pending updates with the repository `apk policy` names for each new version. */
export async function pendingUpdates(ctx: DriverContext, changes: parse.SimulatedChange[]): Promise<PendingUpdate[]> {
  const updates = changes.filter((c) => c.next !== null);
  if (updates.length === 0) return [];
  const res = await ctx.exec.run(cmd.policyCommand(updates.map((c) => c.package)));
  const policy = res.exitCode === 0 ? parse.parsePolicy(res.stdout) : new Map();
  if (res.exitCode !== 0)
    ctx.log?.(`warning: apk policy failed - repositories unknown (${res.stderr.trim().split('\n')[0]})`);
  return updates.map((c) => ({
    package: c.package,
    current_version: c.current,
    new_version: c.next ?? '',
    repository: parse.repositoryOf(policy, c.package, c.next ?? ''),
    security: false,
  }));
}

export async function readVersions(ctx: DriverContext): Promise<Map<string, string>> {
  const res = await ctx.exec.run(cmd.versionsCommand());
  if (res.exitCode !== 0) throw apkFailure('read installed versions', res);
  return parse.parseInstalled(res.stdout);
}

/** /run/reboot-required(.pkgs) plus the running kernel against its installed package. */
export async function readReboot(
  ctx: DriverContext,
  installed?: Map<string, string>,
): Promise<{ required: boolean; packages: string[] }> {
  return readRebootWithKernel(ctx, alpineKernels, installed ?? (await readVersions(ctx)));
}

/** Pending .apk-new files with their ctimes; a non-zero find exit (an unreadable dir) still lists the rest. */
export async function readConffiles(ctx: DriverContext): Promise<Map<string, string>> {
  return parse.parseConffiles((await ctx.exec.run(cmd.conffilesCommand())).stdout);
}
