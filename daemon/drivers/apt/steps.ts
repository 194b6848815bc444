/**
 * One guest operation per function: run an argv from commands.ts through the transport, decide
 * what its exit code means, and parse the output with parse.ts.
 */

import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import type { DriverContext } from '../types.js';
import * as cmd from './commands.js';
import * as parse from './parse.js';

/** Default wait for the dpkg lock (unattended-upgrades may hold it for a while). */
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
const READ_TIMEOUT_MS = 120_000;
const REFRESH_TIMEOUT_MS = 600_000;

export interface RunOptions {
  timeoutMs?: number;
  /** Stream output lines to the log as they arrive. */
  stream?: boolean;
  log?: ((line: string) => void) | undefined;
}

/** Runs one argv in the guest; a non-zero exit is returned, not thrown. */
export async function run(ctx: DriverContext, argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const log = opts.log ?? ctx.log;
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

/** A failure message for a non-zero apt exit: a lock holder ('locked') or apt's last `E:` line. */
export function aptFailure(verb: string, res: ExecResult, waitSeconds: number): PvepatchError {
  const output = `${res.stdout}\n${res.stderr}`;
  if (parse.isLockFailure(output)) {
    const holder = parse.parseLockHolder(output);
    const who = holder ? parse.describeLockHolder(holder) : 'the dpkg lock is held by another process';
    const message = `unable to ${verb} - ${who} after waiting ${waitSeconds}s`;
    return new PvepatchError('locked', message, { details: { ...holder } });
  }
  const cause = parse.lastAptError(output) ?? `exit code ${res.exitCode ?? res.signal}`;
  return new PvepatchError('patch-failed', `unable to ${verb} - ${cause}`, { details: { exitCode: res.exitCode } });
}

export async function refresh(ctx: DriverContext): Promise<void> {
  const wait = lockWaitSeconds(ctx);
  const res = await run(ctx, cmd.refreshCommand(wait), { timeoutMs: REFRESH_TIMEOUT_MS });
  for (const line of res.stderr.split('\n')) if (line.startsWith('W: ')) ctx.log?.(line);
  if (res.exitCode !== 0) throw aptFailure('refresh package lists', res, wait);
}

export async function simulate(ctx: DriverContext): Promise<parse.Simulation & { output: string }> {
  const res = await run(ctx, cmd.simulateCommand());
  if (res.exitCode !== 0) throw aptFailure('list updates', res, 0);
  const sim = parse.parseSimulation(res.stdout);
  for (const line of sim.unparsed) ctx.log?.(`unparsed apt line: ${line}`);
  return { ...sim, output: res.stdout };
}

export async function readHolds(ctx: DriverContext): Promise<string[]> {
  const res = await run(ctx, cmd.showholdCommand());
  if (res.exitCode !== 0) throw aptFailure('read package holds', res, 0);
  return parse.parseShowhold(res.stdout);
}

export async function readVersions(ctx: DriverContext): Promise<Map<string, string>> {
  const res = await run(ctx, cmd.versionsCommand());
  if (res.exitCode !== 0) throw aptFailure('read installed versions', res, 0);
  return parse.parseDpkgQuery(res.stdout);
}

export async function audit(ctx: DriverContext): Promise<parse.AuditResult> {
  const res = await run(ctx, cmd.auditCommand());
  // dpkg --audit exits 0 when it finds problems; another exit code means it could not look
  if (res.exitCode !== 0) throw aptFailure('audit packages', res, 0);
  return parse.parseAudit(res.stdout);
}

/**
 * Waits for the dpkg lock like the upgrade would and changes nothing. Returns the failure (a
 * 'locked' error naming the holder, or apt's dependency complaint), or null when apt is usable.
 */
export async function probeLock(ctx: DriverContext, verb: string): Promise<PvepatchError | null> {
  const wait = lockWaitSeconds(ctx);
  const res = await run(ctx, cmd.lockProbeCommand(wait), { timeoutMs: READ_TIMEOUT_MS + wait * 1000 });
  return res.exitCode === 0 ? null : aptFailure(verb, res, wait);
}

/**
 * `apt-mark hold|unhold`; throws on a non-zero exit. apt-mark does not wait for the dpkg lock
 * (its `dpkg --set-selections` fails at once), so a lock failure waits like apt would and retries once.
 */
export async function mark(ctx: DriverContext, verb: 'hold' | 'unhold', names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const argv = verb === 'hold' ? cmd.holdCommand(names) : cmd.unholdCommand(names);
  let res = await run(ctx, argv);
  if (res.exitCode !== 0 && parse.isLockFailure(`${res.stdout}\n${res.stderr}`)) {
    await probeLock(ctx, `${verb} packages`);
    res = await run(ctx, argv);
  }
  if (res.exitCode !== 0) throw aptFailure(`${verb} packages ${names.join(', ')}`, res, lockWaitSeconds(ctx));
}

export async function readReboot(ctx: DriverContext): Promise<{ required: boolean; packages: string[] }> {
  const flag = await run(ctx, cmd.rebootRequiredCommand());
  const list = await run(ctx, cmd.rebootPackagesCommand());
  const packages = list.exitCode === 0 ? parse.parseRebootPkgs(list.stdout) : [];
  return { required: flag.exitCode === 0, packages };
}

/** Pending config files with their ctimes; find's exit 1 (an unreadable dir) still lists the rest. */
export async function readConffiles(ctx: DriverContext): Promise<Map<string, string>> {
  const res = await run(ctx, cmd.conffilesCommand());
  return parse.parseConffiles(res.stdout);
}
