/**
 * Keeps man-db's trigger from rebuilding the manual-page index during an upgrade (it can take
 * minutes on a small guest). man-db's postinst runs `mandb` from its trigger only while
 * /var/lib/man-db/auto-update exists — the file is its cached `man-db/auto-update` debconf answer —
 * so the switch is parked under a pvepatch name for the upgrade and moved back afterwards. The
 * parked file doubles as the crash marker: `restoreManDb` is idempotent and also runs before every
 * upgrade and on crash recovery. A guest without man-db, or whose admin turned it off, has no file
 * and is left exactly as it is.
 */
import type { DriverContext } from '../types.js';
import { existsCommand, MANDB_AUTO_UPDATE, MANDB_PARKED, moveCommand } from './commands.js';

async function exists(ctx: DriverContext, path: string): Promise<boolean> {
  return (await ctx.exec.run(existsCommand(path))).exitCode === 0;
}

/** Parks the auto-update switch; returns whether there was one to park. */
export async function disableManDb(ctx: DriverContext): Promise<boolean> {
  if (!(await exists(ctx, MANDB_AUTO_UPDATE))) return false;
  const res = await ctx.exec.run(moveCommand(MANDB_AUTO_UPDATE, MANDB_PARKED), { changes: true });
  if (res.exitCode !== 0) ctx.log?.(`warning: could not pause man-db updates - ${res.stderr.trim()}`);
  return res.exitCode === 0;
}

/**
 * Moves a parked switch back (replacing one that man-db's own configure may have recreated).
 * Never throws for the guest's answer: a failure is logged and retried by the next run.
 */
export async function restoreManDb(ctx: DriverContext): Promise<void> {
  if (!(await exists(ctx, MANDB_PARKED))) return;
  const res = await ctx.exec.run(moveCommand(MANDB_PARKED, MANDB_AUTO_UPDATE), { changes: true });
  if (res.exitCode !== 0) ctx.log?.(`warning: could not restore man-db auto-update - ${res.stderr.trim()}`);
}

/** Runs `fn` with man-db's trigger paused; restores it whether `fn` succeeds or throws. */
export async function withManDbPaused<T>(ctx: DriverContext, fn: () => Promise<T>): Promise<T> {
  await disableManDb(ctx);
  try {
    return await fn();
  } finally {
    // a transport failure here must not hide the upgrade's own result; the next run restores
    await restoreManDb(ctx).catch((err: unknown) => ctx.log?.(`warning: man-db restore deferred - ${String(err)}`));
  }
}
