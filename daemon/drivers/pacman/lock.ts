/**
 * pacman's lock is the file /var/lib/pacman/db.lck, created with O_EXCL and removed on exit; pacman
 * never waits for it (`error: failed to init transaction (unable to lock database)`). So the driver
 * polls for the file through the transport until a deadline, then gives up with 'locked', naming a
 * running pacman when pgrep finds one. It never removes the file: a stale lock left by a killed
 * pacman is the admin's call (pacman's own advice is to check no package manager runs first).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PvepatchError } from '../../core/errors.js';
import type { DriverContext } from '../types.js';
import { DB_LOCK, lockHolderCommand, lockPresentCommand } from './commands.js';
import { parseLockHolders } from './parse.js';
import { run } from './run.js';

export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

/** Poll often enough for short test timeouts, at most once a second in production. */
export function pollMs(timeoutMs: number): number {
  return Math.min(1000, Math.max(50, Math.floor(timeoutMs / 20)));
}

export function lockTimeoutMs(ctx: DriverContext): number {
  return ctx.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
}

/** Whether db.lck exists now (`test -e`; any non-zero exit counts as absent). */
export async function lockPresent(ctx: DriverContext): Promise<boolean> {
  return (await run(ctx, lockPresentCommand())).exitCode === 0;
}

/** Returns once db.lck is gone; throws 'locked' when it is still there at `deadline` (epoch ms). */
export async function waitForUnlock(ctx: DriverContext, verb: string, deadline: number): Promise<void> {
  const poll = pollMs(lockTimeoutMs(ctx));
  let logged = false;
  for (;;) {
    if (!(await lockPresent(ctx))) return;
    const left = deadline - Date.now();
    if (left <= 0) throw await lockedError(ctx, verb);
    if (!logged) ctx.log?.(`${DB_LOCK} present - waiting up to ${Math.ceil(left / 1000)}s for pacman to finish`);
    logged = true;
    await sleep(Math.min(poll, left));
  }
}

/** `unable to <verb> - /var/lib/pacman/db.lck present after waiting Ns (<who>)`. */
export async function lockedError(ctx: DriverContext, verb: string): Promise<PvepatchError> {
  const res = await run(ctx, lockHolderCommand());
  const holders = res.exitCode === 0 ? parseLockHolders(res.stdout) : [];
  let who = 'holder unknown - pgrep not available';
  if (holders.length > 0) who = `pacman running: ${holders.map((h) => `${h.pid} ${h.command}`).join(', ')}`;
  else if (res.exitCode === 1)
    who = 'no pacman process is running - a stale lock from an interrupted pacman? pvepatch never removes it';
  const seconds = Math.ceil(lockTimeoutMs(ctx) / 1000);
  return new PvepatchError('locked', `unable to ${verb} - ${DB_LOCK} present after waiting ${seconds}s (${who})`, {
    details: { lockFile: DB_LOCK, holders },
  });
}
