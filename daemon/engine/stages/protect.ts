import { createSnapshot, pruneSnapshots, snapshotName } from '../../proxmox/snapshots.js';
import { done, type Stage } from '../context.js';

/**
 * No patch without protection: a snapshot whose task finished OK and which is listed afterwards.
 * Any failure throws 'protection-failed' and the guest is not patched. Older pvepatch snapshots
 * beyond `snapshot_keep` are deleted afterwards; an admin's own snapshots are never touched.
 */
export const protect: Stage = {
  name: 'protect',
  async run(ctx) {
    const { svc, target } = ctx;
    if (svc.config.protection === 'none') {
      ctx.log('protection: none (configured) - no snapshot taken');
      return { status: 'skipped', reason: 'protection: none' };
    }
    const name = snapshotName(svc.now?.() ?? new Date());
    ctx.log(`creating snapshot '${name}'`);
    const outcome = await createSnapshot(svc.client, target.guest, name, {
      description: `pvepatch before patching (run ${ctx.runId})`,
      timeoutMs: svc.config.task_timeout * 1000,
    });
    ctx.result.snapshot = { name, upid: outcome.upid, finished_at: new Date(outcome.finishedAt).toISOString() };
    ctx.log(`snapshot '${name}' created (${outcome.upid}: ${outcome.exitstatus})`);
    try {
      const pruned = await pruneSnapshots(svc.client, target.guest, svc.config.snapshot_keep);
      if (pruned.length > 0) {
        ctx.result.pruned_snapshots = pruned;
        ctx.log(`deleted older pvepatch snapshot(s): ${pruned.join(', ')}`);
      }
    } catch (err) {
      ctx.log(`warning: unable to delete older pvepatch snapshots - ${(err as Error).message}`);
    }
    return done;
  },
};
