/**
 * One guest operation per function: run an argv from commands.ts through the transport, decide
 * what its exit code means, and parse the output with parse.ts.
 */
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import type { DriverContext, PendingUpdate } from '../types.js';
import * as cmd from './commands.js';
import { checkKernel } from './kernel.js';
import * as parse from './parse.js';
import { output, run } from './run.js';

/** Default wait for apk's lock (another apk, e.g. a cron job, may hold it for a while). */
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
const REFRESH_TIMEOUT_MS = 600_000;

export function lockWaitSeconds(ctx: DriverContext): number {
  return cmd.lockSeconds(ctx.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
}

/**
 * A failure message for a non-zero apk exit: 'locked' when apk gave up on its lock (after its
 * own `--wait`), naming a running apk when pgrep finds one; otherwise apk's `ERROR:` lines.
 */
export async function apkFailure(ctx: DriverContext, verb: string, res: ExecResult): Promise<PvepatchError> {
  const text = output(res);
  if (parse.isLockFailure(text)) {
    const probe = await run(ctx, cmd.lockHolderCommand());
    const holders = probe.exitCode === 0 ? parse.parseHolders(probe.stdout) : [];
    const who = holders.length > 0 ? ` (apk running: ${holders.map((h) => `${h.pid} ${h.command}`).join(', ')})` : '';
    const message = `unable to ${verb} - ${cmd.APK_LOCK} is held by another apk after waiting ${lockWaitSeconds(ctx)}s${who}`;
    return new PvepatchError('locked', message, { details: { lockFile: cmd.APK_LOCK, holders } });
  }
  const cause = parse.failureCause(text) ?? `exit code ${res.exitCode ?? res.signal}`;
  return new PvepatchError('patch-failed', `unable to ${verb} - ${cause}`, { details: { exitCode: res.exitCode } });
}

/** `apk update`: a non-zero exit counts unavailable/stale indexes; a summary saying so fails too. */
export async function refresh(ctx: DriverContext): Promise<void> {
  const wait = lockWaitSeconds(ctx);
  const res = await run(ctx, cmd.refreshCommand(wait), { timeoutMs: REFRESH_TIMEOUT_MS + wait * 1000 });
  if (res.exitCode !== 0) throw await apkFailure(ctx, 'refresh package indexes', res);
  const summary = parse.parseRefreshSummary(res.stdout);
  if (summary && summary.unavailable + summary.stale > 0) {
    const cause = parse.failureCause(output(res)) ?? `${summary.unavailable} unavailable, ${summary.stale} stale`;
    throw new PvepatchError('patch-failed', `unable to refresh package indexes - ${cause}`);
  }
}

/** `apk upgrade --simulate`: the changes the upgrade would make (no lock, nothing written). */
export async function simulate(ctx: DriverContext): Promise<{ changes: parse.SimulatedChange[]; output: string }> {
  const res = await run(ctx, cmd.simulateCommand());
  for (const line of res.stderr.split('\n')) if (line.startsWith('WARNING: ')) ctx.log?.(line);
  if (res.exitCode !== 0) throw await apkFailure(ctx, 'simulate the upgrade', res);
  return { changes: parse.parseChanges(res.stdout), output: res.stdout };
}

/** Pending updates with the repository `apk policy` names for each new version. */
export async function pendingUpdates(ctx: DriverContext, changes: parse.SimulatedChange[]): Promise<PendingUpdate[]> {
  const updates = changes.filter((c) => c.next !== null);
  if (updates.length === 0) return [];
  const res = await run(ctx, cmd.policyCommand(updates.map((c) => c.package)));
  const policy = res.exitCode === 0 ? parse.parsePolicy(res.stdout) : new Map();
  if (res.exitCode !== 0) ctx.log?.(`warning: apk policy failed - repositories unknown (${res.stderr.trim()})`);
  return updates.map((c) => ({
    package: c.package,
    current_version: c.current,
    new_version: c.next ?? '',
    repository: parse.repositoryOf(policy, c.package, c.next ?? ''),
    security: false,
  }));
}

export async function readVersions(ctx: DriverContext): Promise<Map<string, string>> {
  const res = await run(ctx, cmd.versionsCommand());
  if (res.exitCode !== 0) throw await apkFailure(ctx, 'read installed versions', res);
  return parse.parseInstalled(res.stdout);
}

/** /run/reboot-required(.pkgs) plus the running kernel against its installed package. */
export async function readReboot(
  ctx: DriverContext,
  installed?: Map<string, string>,
): Promise<{ required: boolean; packages: string[] }> {
  const flag = await run(ctx, cmd.existsCommand(cmd.REBOOT_REQUIRED_FILE));
  const list = await run(ctx, cmd.rebootPackagesCommand());
  const packages = list.exitCode === 0 ? parse.parseNameList(list.stdout) : [];
  const uname = await run(ctx, cmd.kernelReleaseCommand());
  const kernel = checkKernel(uname.stdout, installed ?? (await readVersions(ctx)));
  if (kernel.skipped) ctx.log?.(`kernel check skipped - ${kernel.skipped}`);
  if (kernel.package && !packages.includes(kernel.package)) packages.push(kernel.package);
  return { required: flag.exitCode === 0 || kernel.outdated, packages };
}

/** Pending .apk-new files with their ctimes; a non-zero find exit (an unreadable dir) still lists the rest. */
export async function readConffiles(ctx: DriverContext): Promise<Map<string, string>> {
  const res = await run(ctx, cmd.conffilesCommand());
  return parse.parseConffiles(res.stdout);
}
