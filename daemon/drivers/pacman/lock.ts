/**
 * pacman's lock is the file /var/lib/pacman/db.lck, created with O_EXCL and removed on exit; pacman
 * never waits for it (`error: failed to init transaction (unable to lock database)`). So the shared
 * lock loop polls for the file through the exec layer until the lock timeout, then gives up with
 * 'locked', naming a running pacman when pgrep finds one. It never removes the file: a stale lock
 * left by a killed pacman is the admin's call (pacman's own advice is to check no package manager
 * runs first).
 */
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import type { GuestRunOptions } from '../shared/guest-exec.js';
import { type LockHolder, lockedError, lockTimeoutMs, retryWhileLocked, waitUntilFree } from '../shared/lock-wait.js';
import { parsePgrep } from '../shared/parse.js';
import type { DriverContext } from '../types.js';
import { DB_LOCK, lockHolderCommand, lockPresentCommand } from './commands.js';
import { isLockFailure } from './parse.js';

const PRESENT: LockHolder = { kind: 'pacman lock', lock: DB_LOCK, pid: null, process: null };

/** db.lck as a holder while it exists (`test -e`; any non-zero exit counts as absent). */
async function probe(ctx: DriverContext): Promise<LockHolder | null> {
  return (await ctx.exec.run(lockPresentCommand())).exitCode === 0 ? PRESENT : null;
}

/** The holder as pgrep sees it: a running pacman, or a note that none runs (a stale lock). */
async function whoHolds(ctx: DriverContext): Promise<LockHolder> {
  const res = await ctx.exec.run(lockHolderCommand());
  const holders = res.exitCode === 0 ? parsePgrep(res.stdout) : [];
  const first = holders[0];
  if (first) return { ...PRESENT, pid: first.pid, process: first.command.slice(0, 120) };
  if (res.exitCode === 1)
    return {
      ...PRESENT,
      note: 'no pacman process is running - a stale lock from an interrupted pacman? pvepatch never removes it',
    };
  return { ...PRESENT, note: 'holder unknown - pgrep not available' };
}

/** The 'locked' error for `verb`, naming whoever holds db.lck now. */
async function locked(ctx: DriverContext, verb: string): Promise<PvepatchError> {
  return lockedError(verb, await whoHolds(ctx), lockTimeoutMs(ctx));
}

/** null once db.lck is gone; the 'locked' error when it is still there after the lock timeout. */
export async function waitForUnlock(ctx: DriverContext, verb: string): Promise<PvepatchError | null> {
  return (await waitUntilFree(ctx, probe)) ? locked(ctx, verb) : null;
}

/**
 * Runs a locking pacman command (-Syy, -Su). pacman does not wait for its lock, so a command that
 * finds db.lck waits (polling) and runs again, within the lock timeout.
 */
export async function runLocked(
  ctx: DriverContext,
  verb: string,
  argv: readonly string[],
  opts: GuestRunOptions = {},
): Promise<ExecResult> {
  try {
    return await retryWhileLocked(ctx, {
      verb,
      attempt: () => ctx.exec.run(argv, opts),
      lockOf: (res) => (res.exitCode !== 0 && isLockFailure(`${res.stdout}\n${res.stderr}`) ? PRESENT : null),
      probe,
    });
  } catch (err) {
    if (err instanceof PvepatchError && err.code === 'locked') throw await locked(ctx, verb);
    throw err;
  }
}
