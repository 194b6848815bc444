import { errorMessage, PvepatchError } from '../core/errors.js';
import { requestRollback } from '../proxmox/power.js';
import { listSnapshots } from '../proxmox/snapshots.js';
import { waitForTask } from '../proxmox/tasks.js';
import { waitComeBack } from './come-back.js';
import type { GuestContext } from './context.js';
import { haHold, haRollbackReason } from './ha.js';
import { verifyGuest } from './stages/verify.js';

/**
 * `on-failure: rollback`: puts the guest back to the run's snapshot (`start=1`), waits for the task
 * and for the guest to answer, then verifies it again. Only the run's own snapshot is used, and only
 * while it is the guest's newest: storages such as ZFS can roll back to the newest snapshot only,
 * and a snapshot taken after ours means someone else is working on the guest. A guest the HA manager
 * manages is not rolled back (ha.md): the error names the commands that do it by hand.
 */
export async function rollBack(ctx: GuestContext, why: string): Promise<void> {
  const { svc, target, policy } = ctx;
  const g = target.guest;
  const snap = ctx.result.snapshot?.name;
  const label = `${g.type === 'lxc' ? 'CT' : 'VM'} ${g.vmid}`;
  if (!snap) {
    ctx.result.rollback = {
      snapshot: '',
      reason: why,
      ok: false,
      error: `no snapshot to roll back to (protection: ${ctx.result.protection ?? 'none'})`,
    };
    ctx.log(`not rolled back: no snapshot was taken (protection: ${ctx.result.protection ?? 'none'})`, {
      essential: true,
    });
    return;
  }
  const entry: NonNullable<typeof ctx.result.rollback> = { snapshot: snap, reason: why, ok: false };
  ctx.result.rollback = entry;
  try {
    const ha = await haHold(ctx);
    if (ha) throw new PvepatchError('precheck-failed', haRollbackReason(ha, g, snap));
    const snaps = await listSnapshots(svc.client, g);
    const ours = snaps.find((s) => s.name === snap);
    if (!ours) throw new PvepatchError('protection-failed', `snapshot '${snap}' is gone`);
    const newer = snaps.filter((s) => s.name !== snap && (s.snaptime ?? 0) > (ours.snaptime ?? 0));
    if (newer.length > 0) {
      throw new PvepatchError(
        'protection-failed',
        `snapshot '${snap}' is not the newest ('${newer[0]!.name}' was taken after it) and storages such as ZFS roll back only to the newest; roll back by hand`,
      );
    }
    await ctx.exec?.closeSession();
    ctx.log(`rolling back ${label} to snapshot '${snap}' - ${why}`, { essential: true });
    const asked = Date.now();
    const upid = await requestRollback(svc.client, g, snap);
    entry.upid = upid;
    const task = await waitForTask(svc.client, upid, {
      timeoutMs: svc.config.task_timeout * 1000,
      what: `roll back ${label} to '${snap}'`,
    });
    ctx.timing.tasksMs += task.finishedAt - asked;
    await waitComeBack(ctx, asked, Date.now() + policy.rebootTimeout * 1000);
    const v = await verifyGuest(ctx);
    entry.verification = v;
    entry.ok = v.ok;
    ctx.log(
      v.ok
        ? `rolled back to '${snap}'; the guest passes its checks again`
        : `rolled back to '${snap}', but checks still fail: ${v.problems.join('; ')}`,
      { essential: true },
    );
  } catch (err) {
    entry.error = errorMessage(err);
    ctx.log(`rollback to '${snap}' failed: ${entry.error}`, { essential: true });
  }
}
