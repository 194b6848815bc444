import { PvepatchError } from '../../core/errors.js';
import { pbsHealth, pbsPrecheck } from '../../pbs/index.js';
import type { GuestContext } from '../context.js';

/**
 * `role pbs`: a Proxmox Backup Server guest is patched only when its tools answer, its root has the
 * policy's free space (pbs-min-free-gb, default 3) and it runs no task — a backup, sync, verify or
 * garbage collection would be cut by the upgrade's service restarts.
 */
export async function pbsBeforePatch(ctx: GuestContext): Promise<void> {
  const pre = await pbsPrecheck(ctx.exec!, { minFreeGiB: ctx.policy.pbsMinFreeGb });
  if (!pre.ok) {
    throw new PvepatchError('precheck-failed', `unable to patch PBS ${ctx.target.guest.vmid} - ${pre.reason}`);
  }
  ctx.result.pbs = { before: { server_version: pre.serverVersion, versions: pre.versions, tasks_from: pre.tasksFrom } };
  ctx.log(`PBS ${pre.serverVersion}: no running tasks, ${Math.floor(pre.freeKiB / 1024 / 1024)} GiB free`);
}

/** After the patch (and reboot): both PBS services active and enabled, versions and last tasks in the report. */
export async function pbsAfterPatch(ctx: GuestContext): Promise<string[]> {
  const health = await pbsHealth(ctx.exec!);
  ctx.result.pbs = { ...ctx.result.pbs, health };
  ctx.log(
    `PBS health: ${health.services.map((s) => `${s.name} ${s.activeState}/${s.enabledState}`).join(', ')}; ${health.versions[0] ?? 'no versions'}`,
  );
  return health.problems.map((p) => `PBS: ${p}`);
}
