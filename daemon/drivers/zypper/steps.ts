/**
 * One guest operation per function: run an argv from commands.ts through the exec layer, decide
 * what its exit code means (exit-codes.ts), and parse the output (parse.ts, parse-text.ts).
 */
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import { runSelfWaiting } from '../shared/lock-wait.js';
import { parseNameList } from '../shared/parse.js';
import { readRebootFlag } from '../shared/reboot-flag.js';
import type { DriverContext, PendingUpdate } from '../types.js';
import * as cmd from './commands.js';
import { exitNote, isZypperSuccess, ZYPPER_EXIT, zypperFailure } from './exit-codes.js';
import * as parse from './parse.js';
import * as text from './parse-text.js';

const REFRESH_TIMEOUT_MS = 600_000;
/** More needed security patches than this is no patch set a guest really has. */
export const MAX_PATCHES = 5000;

export interface RunOptions {
  timeoutMs?: number;
  /** Stream output lines to the log as they arrive. */
  stream?: boolean;
  changes?: boolean;
}

/**
 * Runs a zypper argv built for the remaining lock wait. zypper waits itself (ZYPP_LOCK_TIMEOUT);
 * should it answer exit 7 sooner (a zypper that ignores the variable), the shared loop asks again
 * until the wait is used up, then throws 'locked' naming the holder.
 */
export function zypper(
  ctx: DriverContext,
  verb: string,
  build: (waitSeconds: number) => string[],
  opts: RunOptions = {},
): Promise<ExecResult> {
  const lockOf = (res: ExecResult) =>
    res.exitCode === ZYPPER_EXIT.zyppLocked ? text.parseLockHolder(res.stdout, res.stderr) : null;
  return runSelfWaiting(ctx, verb, build, lockOf, opts);
}

/** Runs zypper and throws unless it succeeded; informational exit codes are logged. */
async function zypperOk(
  ctx: DriverContext,
  verb: string,
  build: (waitSeconds: number) => string[],
  opts: RunOptions = {},
): Promise<ExecResult> {
  const res = await zypper(ctx, verb, build, opts);
  if (!isZypperSuccess(res.exitCode)) throw zypperFailure(verb, res);
  const note = exitNote(res.exitCode);
  if (note) ctx.log?.(`zypper exit ${res.exitCode}: ${note}`);
  return res;
}

export async function refresh(ctx: DriverContext): Promise<void> {
  await zypperOk(ctx, 'refresh repositories', cmd.refreshCommand, { timeoutMs: REFRESH_TIMEOUT_MS });
}

/** Every lock in the guest; also the first zypp-lock wait of an upgrade. */
export async function readLocks(ctx: DriverContext, verb = 'read package locks'): Promise<parse.ZypperLock[]> {
  const res = await zypperOk(ctx, verb, cmd.locksCommand);
  return parse.parseLocks(res.stdout);
}

/** Pending package updates as zypper lists them (admin-locked packages are left out). */
export async function readUpdates(ctx: DriverContext): Promise<PendingUpdate[]> {
  const res = await zypperOk(ctx, 'list updates', cmd.listUpdatesCommand);
  const parsed = parse.parseListUpdates(res.stdout);
  for (const u of parsed.unparsed.slice(0, 20)) ctx.log?.(`unparsed zypper update: ${u}`);
  return parsed.updates;
}

export interface SecurityPatch extends parse.Patch {
  /** Package names the patch updates (from its Conflicts). */
  packages: string[];
}

/** Needed security patches and the packages each one updates (list-patches, then one info -t patch). */
export async function readSecurityPatches(ctx: DriverContext): Promise<SecurityPatch[]> {
  const list = await zypperOk(ctx, 'list patches', cmd.listSecurityPatchesCommand);
  const needed = parse.neededSecurityPatches(parse.parsePatches(list.stdout));
  if (needed.length > MAX_PATCHES) {
    throw new PvepatchError(
      'output-invalid',
      `unable to read patch details - zypper lists ${needed.length} needed security patches (more than ${MAX_PATCHES})`,
    );
  }
  const ids = needed.map((p) => p.id);
  const coverage = new Map<string, string[]>();
  if (ids.length > 0) {
    const info = await zypperOk(ctx, 'read patch details', (w) => cmd.patchInfoCommand(w, ids));
    for (const [id, names] of parse.parsePatchInfo(info.stdout)) coverage.set(id, names);
  }
  return needed.map((p) => {
    const packages = coverage.get(p.id) ?? [];
    if (packages.length === 0) ctx.log?.(`warning: security patch ${p.id} names no package`);
    return { ...p, packages };
  });
}

export async function readVersions(ctx: DriverContext): Promise<Map<string, string>> {
  const res = await ctx.exec.run(cmd.versionsCommand());
  if (res.exitCode !== 0) throw zypperFailure('read installed versions', res);
  return text.parseRpmVersions(res.stdout);
}

/** `verify --dry-run`: what zypper would change to repair dependencies ([] = consistent). */
export async function verifyDryRun(ctx: DriverContext): Promise<ExecResult & { repairs: parse.SummaryChange[] }> {
  const res = await zypper(ctx, 'check dependencies', cmd.verifyDryRunCommand);
  const summary = isZypperSuccess(res.exitCode) ? parse.parseInstallSummary(res.stdout) : null;
  return { ...res, repairs: summary?.changes ?? [] };
}

export async function repair(ctx: DriverContext, timeoutMs: number): Promise<string> {
  const res = await zypperOk(ctx, 'repair dependencies', cmd.verifyCommand, { timeoutMs, stream: true, changes: true });
  return `${res.stdout}${res.stderr}`;
}

/** `zypper addlock|removelock -- holds…`; throws on failure. A removal that removed fewer is logged. */
export async function lock(ctx: DriverContext, verb: 'add' | 'remove', holds: readonly string[]): Promise<void> {
  if (holds.length === 0) return;
  const build = (w: number) => (verb === 'add' ? cmd.addLockCommand(w, holds) : cmd.removeLockCommand(w, holds));
  const res = await zypperOk(ctx, `${verb} package locks ${holds.join(', ')}`, build, { changes: true });
  const removed = verb === 'remove' ? text.parseRemovedLocks(res.stdout) : null;
  if (removed !== null && removed < holds.length) {
    ctx.log?.(`warning: zypper removed ${removed} of the locks ${holds.join(', ')} - the others were already gone`);
  }
}

/** `zypper needs-rebooting` (falls back to libzypp's /run/reboot-needed) or /run/reboot-required. */
export async function readReboot(ctx: DriverContext): Promise<{ required: boolean; packages: string[] }> {
  const needs = await ctx.exec.run(cmd.needsRebootingCommand());
  let zyppFlag = needs.exitCode === ZYPPER_EXIT.rebootNeeded;
  if (needs.exitCode !== 0 && !zyppFlag) {
    ctx.log?.(`zypper needs-rebooting gave exit ${needs.exitCode} - reading ${cmd.REBOOT_NEEDED_FILE}`);
    zyppFlag = (await ctx.exec.run(cmd.existsCommand(cmd.REBOOT_NEEDED_FILE))).exitCode === 0;
  }
  const flag = await readRebootFlag(ctx);
  return { required: zyppFlag || flag.required, packages: flag.packages };
}

/** `zypper ps -sss`; [] (logged) when it cannot tell, e.g. without lsof in the guest. */
export async function readServices(ctx: DriverContext): Promise<string[]> {
  const res = await ctx.exec.run(cmd.servicesCommand());
  if (res.exitCode === 0) return parseNameList(res.stdout);
  ctx.log?.(`services to restart unknown - ${text.zypperErrorText(res.stdout, res.stderr) ?? `exit ${res.exitCode}`}`);
  return [];
}
