/**
 * One guest operation per function: run an argv from commands.ts through the transport, decide
 * what its exit code means (exit-codes.ts), and parse the output (parse.ts, parse-text.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecResult } from '../../core/exec.js';
import type { DriverContext, PendingUpdate } from '../types.js';
import * as cmd from './commands.js';
import { exitNote, isZypperSuccess, ZYPPER_EXIT, zypperFailure } from './exit-codes.js';
import * as parse from './parse.js';
import * as text from './parse-text.js';

/** Default wait for the zypp lock (PackageKit or a cron'd zypper may hold it for a while). */
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
/** How often to ask again when a zypper answers "locked" sooner than the wait allows. */
const LOCK_POLL_MS = 1000;
const READ_TIMEOUT_MS = 120_000;
const REFRESH_TIMEOUT_MS = 600_000;

export interface RunOptions {
  timeoutMs?: number;
  /** Stream output lines to the log as they arrive. */
  stream?: boolean;
}

/** Runs one argv in the guest; a non-zero exit is returned, not thrown. */
export async function run(ctx: DriverContext, argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const log = ctx.log;
  log?.(`$ ${argv.join(' ')}`);
  const onOutput = opts.stream && log ? lineSplitter(log) : undefined;
  return ctx.transport.exec(argv, { timeoutMs: opts.timeoutMs ?? READ_TIMEOUT_MS, ...(onOutput ? { onOutput } : {}) });
}

function lineSplitter(log: (line: string) => void): (stream: 'stdout' | 'stderr', chunk: string) => void {
  const rest = { stdout: '', stderr: '' };
  return (stream, chunk) => {
    const lines = (rest[stream] + chunk).split('\n');
    rest[stream] = lines.pop() ?? '';
    for (const line of lines) log(line);
  };
}

export function lockWaitSeconds(ctx: DriverContext): number {
  return cmd.lockSeconds(ctx.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
}

/**
 * Runs a zypper argv built for the remaining lock wait. zypper waits itself (ZYPP_LOCK_TIMEOUT);
 * should it answer exit 7 sooner (a zypper that ignores the variable), it is asked again until
 * the wait is used up. The last result is returned; the caller maps exit 7 to 'locked'.
 */
export async function zypper(
  ctx: DriverContext,
  build: (waitSeconds: number) => string[],
  opts: RunOptions = {},
): Promise<ExecResult> {
  const deadline = Date.now() + (ctx.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  for (;;) {
    const wait = cmd.lockSeconds(Math.max(0, deadline - Date.now()));
    const timeoutMs = (opts.timeoutMs ?? READ_TIMEOUT_MS) + wait * 1000;
    const res = await run(ctx, build(wait), { ...opts, timeoutMs });
    if (res.exitCode !== ZYPPER_EXIT.zyppLocked || Date.now() >= deadline) return res;
    await sleep(Math.min(LOCK_POLL_MS, deadline - Date.now()));
  }
}

/** Runs zypper and throws unless it succeeded; informational exit codes are logged. */
async function zypperOk(
  ctx: DriverContext,
  verb: string,
  build: (waitSeconds: number) => string[],
  opts: RunOptions = {},
): Promise<ExecResult> {
  const res = await zypper(ctx, build, opts);
  if (!isZypperSuccess(res.exitCode)) throw zypperFailure(verb, res, lockWaitSeconds(ctx));
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
  for (const u of parsed.unparsed) ctx.log?.(`unparsed zypper update: ${u}`);
  return parsed.updates;
}

export interface SecurityPatch extends parse.Patch {
  /** Package names the patch updates (from its Conflicts). */
  packages: string[];
}

/** Needed security patches and the packages each one updates (list-patches, then info -t patch). */
export async function readSecurityPatches(ctx: DriverContext): Promise<SecurityPatch[]> {
  const list = await zypperOk(ctx, 'list patches', cmd.listSecurityPatchesCommand);
  const needed = parse.neededSecurityPatches(parse.parsePatches(list.stdout));
  const coverage = new Map<string, string[]>();
  for (let i = 0; i < needed.length; i += 100) {
    const ids = needed.slice(i, i + 100).map((p) => p.id);
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
  const res = await run(ctx, cmd.versionsCommand());
  if (res.exitCode !== 0) throw zypperFailure('read installed versions', res, 0);
  return text.parseRpmVersions(res.stdout);
}

/** `verify --dry-run`: what zypper would change to repair dependencies ([] = consistent). */
export async function verifyDryRun(ctx: DriverContext): Promise<ExecResult & { repairs: parse.SummaryChange[] }> {
  const res = await zypper(ctx, cmd.verifyDryRunCommand);
  const summary = isZypperSuccess(res.exitCode) ? parse.parseInstallSummary(res.stdout) : null;
  return { ...res, repairs: summary?.changes ?? [] };
}

export async function repair(ctx: DriverContext, timeoutMs: number): Promise<string> {
  const res = await zypperOk(ctx, 'repair dependencies', cmd.verifyCommand, { timeoutMs, stream: true });
  return `${res.stdout}${res.stderr}`;
}

/** `zypper addlock|removelock -- holds…`; throws on failure. A removal that removed fewer is logged. */
export async function lock(ctx: DriverContext, verb: 'add' | 'remove', holds: readonly string[]): Promise<void> {
  if (holds.length === 0) return;
  const build = (w: number) => (verb === 'add' ? cmd.addLockCommand(w, holds) : cmd.removeLockCommand(w, holds));
  const res = await zypperOk(ctx, `${verb} package locks ${holds.join(', ')}`, build);
  const removed = verb === 'remove' ? text.parseRemovedLocks(res.stdout) : null;
  if (removed !== null && removed < holds.length) {
    ctx.log?.(`warning: zypper removed ${removed} of the locks ${holds.join(', ')} - the others were already gone`);
  }
}

export interface RebootState {
  required: boolean;
  packages: string[];
}

/** `zypper needs-rebooting` (falls back to libzypp's /run/reboot-needed) or /run/reboot-required. */
export async function readReboot(ctx: DriverContext): Promise<RebootState> {
  const needs = await run(ctx, cmd.needsRebootingCommand());
  let zyppFlag = needs.exitCode === ZYPPER_EXIT.rebootNeeded;
  if (needs.exitCode !== 0 && !zyppFlag) {
    ctx.log?.(`zypper needs-rebooting gave exit ${needs.exitCode} - reading ${cmd.REBOOT_NEEDED_FILE}`);
    zyppFlag = (await run(ctx, cmd.existsCommand(cmd.REBOOT_NEEDED_FILE))).exitCode === 0;
  }
  const flag = await run(ctx, cmd.existsCommand(cmd.REBOOT_REQUIRED_FILE));
  const list = await run(ctx, cmd.catCommand(cmd.REBOOT_PACKAGES_FILE));
  const packages = list.exitCode === 0 ? text.parseNameLines(list.stdout) : [];
  return { required: zyppFlag || flag.exitCode === 0, packages };
}

/** `zypper ps -sss`; [] (logged) when it cannot tell, e.g. without lsof in the guest. */
export async function readServices(ctx: DriverContext): Promise<string[]> {
  const res = await run(ctx, cmd.servicesCommand());
  if (res.exitCode === 0) return text.parseNameLines(res.stdout);
  ctx.log?.(`services to restart unknown - ${text.zypperErrorText(res.stdout, res.stderr) ?? `exit ${res.exitCode}`}`);
  return [];
}

/** Pending config files with their ctimes; find's exit 1 (an unreadable dir) still lists the rest. */
export async function readConffiles(ctx: DriverContext): Promise<Map<string, string>> {
  const res = await run(ctx, cmd.conffilesCommand());
  return text.parseConffiles(res.stdout);
}
