import { PvepatchError } from '../../core/errors.js';
import type { GuestExec } from '../../drivers/shared/guest-exec.js';
import { done, type GuestContext, type Stage } from '../context.js';
import { parseDfAvailableKb } from '../disk.js';
import { describeFailedUnits, readFailedUnits } from '../verify/failed-units.js';
import { pbsBeforePatch } from './pbs.js';

/**
 * Checks that the guest can take an upgrade: free space on /, a sane package database and lock.
 * Also records which units were failed before the patch, so verification blames only new failures.
 */
export const inspect: Stage = {
  name: 'inspect',
  async run(ctx) {
    const exec = ctx.exec!;
    await checkFreeSpace(ctx, exec);
    const pre = await ctx.driver!.precheck(ctx.driverCtx!, { fixBroken: ctx.svc.config.fix_broken });
    if (!pre.ok)
      throw new PvepatchError(
        'precheck-failed',
        `unable to patch ${ctx.target.guest.vmid} - ${pre.problems.join('; ')}`,
      );
    if (ctx.policy.role === 'pbs') await pbsBeforePatch(ctx);
    if (!ctx.dryRun) {
      const failed = await readFailedUnits(exec);
      ctx.failedBefore = failed.available ? failed.units : null;
      ctx.log(`before the patch: ${describeFailedUnits(failed)}`);
    }
    return done;
  },
};

async function checkFreeSpace(ctx: GuestContext, exec: GuestExec): Promise<void> {
  const min = ctx.svc.config.min_free_mb;
  if (min === 0) return;
  const res = await exec.run(['df', '-Pk', '/']);
  const kb = res.exitCode === 0 ? parseDfAvailableKb(res.stdout) : null;
  if (kb === null) {
    const said = (res.stderr.trim() || res.stdout.trim()).split('\n')[0]?.slice(0, 200) ?? '';
    throw new PvepatchError('precheck-failed', `unable to read free space on / - df said: ${said}`);
  }
  if (kb / 1024 < min) {
    throw new PvepatchError(
      'precheck-failed',
      `unable to patch - only ${Math.floor(kb / 1024)} MB free on / (minimum ${min} MB, min_free_mb)`,
    );
  }
}
