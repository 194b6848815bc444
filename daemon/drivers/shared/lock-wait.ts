/**
 * Waiting for a package-manager lock that someone else holds — one shape of holder and one loop
 * for every family. Some tools wait themselves when told how long (apt's DPkg::Lock::Timeout,
 * zypper's ZYPP_LOCK_TIMEOUT, apk's --wait): they get the seconds left. Others give up at once
 * (dnf/yum with exit_on_lock, pacman): the loop waits here, polling a cheap probe through the
 * transport when the family has one, never a `sleep` inside the guest. A command that failed on
 * a lock changed nothing, so it is run again while time is left.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import type { DriverContext } from '../types.js';
import { type GuestRunOptions, READ_TIMEOUT_MS } from './guest-exec.js';

export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
/** Between two probes; a shorter remaining wait shortens it. */
export const LOCK_POLL_MS = 1000;

export interface LockHolder {
  /** 'dpkg lock', 'rpm transaction lock', 'dnf lock', 'zypp lock', 'pacman lock', 'apk lock'. */
  kind: string;
  /** The lock file, e.g. /var/lib/dpkg/lock-frontend. */
  lock: string;
  pid: number | null;
  /** The holder's command name, when the tool printed it or /proc told it. */
  process: string | null;
  /** What else the admin should know (e.g. no process runs: a stale lock). */
  note?: string;
}

/** "dpkg lock /var/lib/dpkg/lock-frontend is held by process 42 (perl)". */
export function describeHolder(h: LockHolder): string {
  const who = h.pid === null ? 'another process' : `process ${h.pid}`;
  return `${h.kind} ${h.lock} is held by ${who}${h.process ? ` (${h.process})` : ''}${h.note ? ` - ${h.note}` : ''}`;
}

export function lockTimeoutMs(ctx: DriverContext): number {
  return ctx.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
}

/** Whole seconds for a tool's own lock wait, rounded up so a short wait is never zero. */
export function lockSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/** The lock timeout in whole seconds, for a tool that waits itself. */
export function lockWaitSeconds(ctx: DriverContext): number {
  return lockSeconds(lockTimeoutMs(ctx));
}

export function lockedError(verb: string, holder: LockHolder, waitedMs: number): PvepatchError {
  return new PvepatchError(
    'locked',
    `unable to ${verb} - ${describeHolder(holder)} after waiting ${lockSeconds(waitedMs)}s`,
    { details: { lock: holder.lock, pid: holder.pid, process: holder.process } },
  );
}

/** Reads the guest's current lock holder, or null when nothing holds a lock. */
export type LockProbe = (ctx: DriverContext) => Promise<LockHolder | null>;

export interface LockedAttempt {
  verb: string;
  /** Runs the command once; `waitSeconds` is what is left of the lock timeout (for tools that wait themselves). */
  attempt: (waitSeconds: number) => Promise<ExecResult>;
  /** The holder named in the attempt's output, or null when it did not fail on a lock. */
  lockOf: (res: ExecResult) => LockHolder | null;
  /** Polled until the lock looks free before the next attempt; without it, the loop waits a poll interval. */
  probe?: LockProbe;
}

/**
 * Runs `attempt` until it does not fail on a lock; after the lock timeout throws 'locked' naming
 * the holder. Returns the first result that is not a lock failure (its exit code is the caller's).
 */
export async function retryWhileLocked(ctx: DriverContext, a: LockedAttempt): Promise<ExecResult> {
  const timeout = lockTimeoutMs(ctx);
  const deadline = Date.now() + timeout;
  const announce = announcer(ctx);
  for (;;) {
    const res = await a.attempt(lockSeconds(deadline - Date.now()));
    const failedOn = a.lockOf(res);
    if (!failedOn) return res;
    announce(failedOn);
    if (Date.now() >= deadline) throw lockedError(a.verb, failedOn, timeout);
    const still = a.probe ? await pollUntilFree(ctx, a.probe, deadline, announce) : null;
    if (still) throw lockedError(a.verb, still, timeout);
    // free as far as the probe can tell (it may not see every lock): try again, never at once
    await sleep(Math.min(a.probe ? LOCK_POLL_MS / 4 : LOCK_POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Runs a tool that waits for its lock itself when told how long (apt's DPkg::Lock::Timeout,
 * zypper's ZYPP_LOCK_TIMEOUT, apk's --wait): the argv is built for the seconds left and the
 * command's own timeout grows by them; `lockOf` says when it still gave up on a lock.
 */
export function runSelfWaiting(
  ctx: DriverContext,
  verb: string,
  build: (waitSeconds: number) => string[],
  lockOf: (res: ExecResult) => LockHolder | null,
  opts: GuestRunOptions = {},
): Promise<ExecResult> {
  return retryWhileLocked(ctx, {
    verb,
    lockOf,
    attempt: (wait) =>
      ctx.exec.run(build(wait), { ...opts, timeoutMs: (opts.timeoutMs ?? READ_TIMEOUT_MS) + wait * 1000 }),
  });
}

/** Polls `probe` until nothing holds a lock (null) or the lock timeout is over (the holder). */
export async function waitUntilFree(ctx: DriverContext, probe: LockProbe): Promise<LockHolder | null> {
  return pollUntilFree(ctx, probe, Date.now() + lockTimeoutMs(ctx), announcer(ctx));
}

async function pollUntilFree(
  ctx: DriverContext,
  probe: LockProbe,
  deadline: number,
  announce: (h: LockHolder) => void,
): Promise<LockHolder | null> {
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

/** Logs "waiting: <holder>" once per distinct holder. */
function announcer(ctx: DriverContext): (holder: LockHolder) => void {
  let last = '';
  return (holder) => {
    const text = describeHolder(holder);
    if (text !== last) ctx.log?.(`waiting: ${text}`);
    last = text;
  };
}
