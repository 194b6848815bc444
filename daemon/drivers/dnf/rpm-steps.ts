/**
 * Guest operations at the rpm level, shared by the dnf and yum drivers: one argv from rpm.ts per
 * function, its exit code judged here, its output parsed there.
 */
import { PvepatchError } from '../../core/errors.js';
import type { DriverContext } from '../types.js';
import type { LockHolder } from './lock.js';
import * as rpm from './rpm.js';
import { failureCause, run } from './run.js';

export async function readInstalled(ctx: DriverContext): Promise<rpm.InstalledRpm[]> {
  const res = await run(ctx, rpm.installedCommand());
  if (res.exitCode !== 0) {
    throw new PvepatchError('patch-failed', `unable to read installed packages - ${failureCause(res)}`);
  }
  return rpm.parseInstalled(res.stdout);
}

/** A file's text, or '' when it cannot be read (absent files are the usual case). */
export async function readOptionalFile(ctx: DriverContext, path: string): Promise<string> {
  const res = await run(ctx, rpm.readFileCommand(path));
  return res.exitCode === 0 ? res.stdout : '';
}

/** `.rpmnew`/`.rpmsave` files with their ctimes; find's exit 1 (an unreadable dir) still lists the rest. */
export async function readConffiles(ctx: DriverContext): Promise<Map<string, string>> {
  return rpm.parseConffiles((await run(ctx, rpm.conffilesCommand())).stdout);
}

/** `/run/reboot-required` and the package names in `/run/reboot-required.pkgs`. */
export async function readRebootFlag(ctx: DriverContext): Promise<{ required: boolean; packages: string[] }> {
  const flag = await run(ctx, rpm.existsCommand(rpm.REBOOT_REQUIRED_FILE));
  const packages = rpm.parseNameList(await readOptionalFile(ctx, rpm.REBOOT_PACKAGES_FILE));
  return { required: flag.exitCode === 0, packages };
}

/** The running kernel against the installed kernel packages (null: not one of them, or unknown). */
export async function checkRunningKernel(
  ctx: DriverContext,
): Promise<{ outdated: boolean; packages: string[] } | null> {
  const uname = await run(ctx, rpm.unameCommand());
  if (uname.exitCode !== 0) return null;
  return rpm.runningKernelCheck(await readInstalled(ctx), uname.stdout);
}

export interface VerifyDbResult {
  /** rpm's transaction lock file when a transaction holds it. */
  lock: string | null;
  /** Why the database did not verify (not a lock), or null. */
  problem: string | null;
}

/** `rpm --verifydb`: a lock shows as "can't create transaction lock on …", anything else is a problem. */
export async function verifyDb(ctx: DriverContext): Promise<VerifyDbResult> {
  const res = await run(ctx, rpm.verifyDbCommand());
  const lock = rpm.parseRpmLock(`${res.stdout}\n${res.stderr}`);
  if (lock) return { lock, problem: null };
  return { lock: null, problem: res.exitCode === 0 ? null : failureCause(res) };
}

/**
 * The first pid file whose process still runs (dnf and yum take over files of dead processes), with
 * the process's name from /proc; null when none.
 */
export async function pidFileHolder(ctx: DriverContext, files: readonly string[], kind: string) {
  const res = await run(ctx, rpm.pidFilesCommand(files));
  for (const { file, pid } of rpm.parsePidFiles(res.stdout)) {
    if (pid <= 0) continue;
    const comm = await run(ctx, rpm.processNameCommand(pid));
    if (comm.exitCode !== 0) continue; // stale: the process is gone
    const holder: LockHolder = { kind, lock: file, pid, process: comm.stdout.trim() || null };
    return holder;
  }
  return null;
}

/** The rpm transaction lock as a holder (rpm does not say who holds it). */
export function rpmLockHolder(lock: string): LockHolder {
  return { kind: 'rpm transaction lock', lock, pid: null, process: null };
}
