/**
 * Guest operations at the rpm level, shared by the dnf and yum drivers: one argv from
 * commands.ts per function, its exit code judged here, its output parsed in parse.ts.
 */
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import type { LockHolder } from '../shared/lock-wait.js';
import { isDigits } from '../shared/parse.js';
import type { DriverContext } from '../types.js';
import * as cmd from './commands.js';
import { failureCause, type InstalledRpm, parseInstalled, parseRpmLock } from './parse.js';
import { runningKernelCheck } from './rpm.js';

/** Metadata downloads and whole-repository reads. */
export const REFRESH_TIMEOUT_MS = 600_000;
export const DEFAULT_UPGRADE_TIMEOUT_MS = 15 * 60_000;

/** 'patch-failed' with dnf's, yum's or rpm's own cause (else the exit code). */
export function failed(verb: string, res: ExecResult): PvepatchError {
  const cause = failureCause(res.stdout, res.stderr) ?? `exit code ${res.exitCode ?? res.signal}`;
  return new PvepatchError('patch-failed', `unable to ${verb} - ${cause}`, { details: { exitCode: res.exitCode } });
}

export async function readInstalled(ctx: DriverContext): Promise<InstalledRpm[]> {
  const res = await ctx.exec.run(cmd.installedCommand());
  if (res.exitCode !== 0) throw failed('read installed packages', res);
  return parseInstalled(res.stdout);
}

/** A file's text, or '' when it cannot be read (absent files are the usual case). */
export async function readOptionalFile(ctx: DriverContext, path: string): Promise<string> {
  const res = await ctx.exec.run(cmd.readFileCommand(path));
  return res.exitCode === 0 ? res.stdout : '';
}

/** The running kernel against the installed kernel packages (null: not one of them, or unknown). */
export async function checkRunningKernel(
  ctx: DriverContext,
  installed?: InstalledRpm[],
): Promise<{ outdated: boolean; packages: string[] } | null> {
  const uname = await ctx.exec.run(cmd.unameCommand());
  if (uname.exitCode !== 0) return null;
  return runningKernelCheck(installed ?? (await readInstalled(ctx)), uname.stdout);
}

export interface VerifyDbResult {
  /** rpm's transaction lock file when a transaction holds it. */
  lock: string | null;
  /** Why the database did not verify (not a lock), or null. */
  problem: string | null;
}

/** `rpm --verifydb`: a lock shows as "can't create transaction lock on …", anything else is a problem. */
export async function verifyDb(ctx: DriverContext): Promise<VerifyDbResult> {
  const res = await ctx.exec.run(cmd.verifyDbCommand());
  const lock = parseRpmLock(`${res.stdout}\n${res.stderr}`);
  if (lock) return { lock, problem: null };
  if (res.exitCode === 0) return { lock: null, problem: null };
  return { lock: null, problem: failureCause(res.stdout, res.stderr) ?? `exit code ${res.exitCode}` };
}

/**
 * The first pid file whose process still runs (dnf and yum take over files of dead processes), with
 * the process's name from /proc; null when none. At most two commands per lock file, whatever the
 * files hold.
 */
export async function pidFileHolder(
  ctx: DriverContext,
  files: readonly string[],
  kind: string,
): Promise<LockHolder | null> {
  for (const file of files) {
    const res = await ctx.exec.run(cmd.pidFileCommand(file));
    const text = res.exitCode === 0 ? res.stdout.trim() : '';
    if (!isDigits(text, 10) || Number(text) <= 0) continue;
    const pid = Number(text);
    const comm = await ctx.exec.run(cmd.processNameCommand(pid));
    if (comm.exitCode !== 0) continue; // stale: the process is gone
    return { kind, lock: file, pid, process: comm.stdout.trim().slice(0, 64) || null };
  }
  return null;
}

/** The rpm transaction lock as a holder (rpm does not say who holds it). */
export function rpmLockHolder(lock: string): LockHolder {
  return { kind: 'rpm transaction lock', lock, pid: null, process: null };
}
