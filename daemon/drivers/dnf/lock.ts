/**
 * Waiting for a package-manager lock that someone else holds. dnf and yum are always run with
 * `exit_on_lock` so they fail at once instead of waiting forever; the wait happens here, by
 * polling a cheap probe through the transport (never a `sleep` inside the guest), up to the
 * context's lock timeout. A command that failed on a lock changed nothing, so it is retried.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import type { DriverContext } from '../types.js';
import { DEFAULT_LOCK_TIMEOUT_MS } from './run.js';

/** Between two probes; a shorter remaining wait shortens it. */
export const LOCK_POLL_MS = 1000;

export interface LockHolder {
  /** 'rpm transaction lock', 'dnf lock', 'yum lock'. */
  kind: string;
  /** The lock file, e.g. /var/lib/rpm/.rpm.lock or /var/run/yum.pid. */
  lock: string;
  pid: number | null;
  /** The holder's command name, when the tool printed it or /proc told it. */
  process: string | null;
}

/** Reads the guest's current lock holder, or null when nothing holds a lock. */
export type LockProbe = (ctx: DriverContext) => Promise<LockHolder | null>;

/** "rpm transaction lock /var/lib/rpm/.rpm.lock is held by process 42 (dnf)". */
export function describeHolder(h: LockHolder): string {
  const who = h.pid === null ? 'another process' : `process ${h.pid}`;
  return `${h.kind} ${h.lock} is held by ${who}${h.process ? ` (${h.process})` : ''}`;
}

export function lockTimeoutMs(ctx: DriverContext): number {
  return ctx.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
}

export function lockedError(verb: string, holder: LockHolder, waitedMs: number): PvepatchError {
  const seconds = Math.max(0, Math.ceil(waitedMs / 1000));
  return new PvepatchError('locked', `unable to ${verb} - ${describeHolder(holder)} after waiting ${seconds}s`, {
    details: { lock: holder.lock, pid: holder.pid, process: holder.process },
  });
}

/** Polls `probe` until nothing holds a lock (null) or the lock timeout is over (the holder). */
export async function waitForLock(ctx: DriverContext, probe: LockProbe): Promise<LockHolder | null> {
  const deadline = Date.now() + lockTimeoutMs(ctx);
  const announce = announcer(ctx);
  let holder = await probe(ctx);
  while (holder) {
    announce(holder);
    const remaining = deadline - Date.now();
    if (remaining <= 0) return holder;
    await sleep(Math.min(LOCK_POLL_MS, remaining));
    holder = await probe(ctx);
  }
  return null;
}

export interface LockedAttempt {
  verb: string;
  attempt: () => Promise<ExecResult>;
  /** The holder named in the attempt's output, or null when it did not fail on a lock. */
  lockOf: (res: ExecResult) => LockHolder | null;
  probe: LockProbe;
}

/**
 * Runs `attempt`; while its output shows a lock, waits (probing) and runs it again, up to the lock
 * timeout, then throws 'locked' naming the holder. Returns the first result that is not a lock
 * failure (its exit code is for the caller to judge).
 */
export async function retryWhileLocked(ctx: DriverContext, a: LockedAttempt): Promise<ExecResult> {
  let res = await a.attempt();
  let holder = a.lockOf(res);
  if (!holder) return res;
  const timeout = lockTimeoutMs(ctx);
  const deadline = Date.now() + timeout;
  const announce = announcer(ctx);
  for (;;) {
    announce(holder);
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw lockedError(a.verb, holder, timeout);
    await sleep(Math.min(LOCK_POLL_MS, remaining));
    const probed = await a.probe(ctx);
    if (probed) {
      holder = probed;
      continue;
    }
    res = await a.attempt();
    const again = a.lockOf(res);
    if (!again) return res;
    holder = again;
  }
}

/** Logs "waiting: <holder>" once per distinct holder. */
function announcer(ctx: DriverContext): (holder: LockHolder) => void {
  let last = '';
  return (holder) => {
    const text = describeHolder(holder);
    if (text !== last) ctx.log?.(`waiting: ${text}`);
    last = text;
  };
}
