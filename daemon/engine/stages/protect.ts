import { errorMessage, PvepatchError } from '../../core/errors.js';
import { createSnapshot, pruneSnapshots, snapshotName } from '../../proxmox/snapshots.js';
import { backupGuest } from '../../proxmox/vzdump.js';
import type { SnapshotRecord } from '../../store/state.js';
import { protectWithPbsBackup } from '../backup-protection.js';
import { done, type GuestContext, type Stage } from '../context.js';
import { settleSnapshots } from '../snapshot-records.js';

/**
 * No patch without protection: a snapshot whose task finished OK and which is listed afterwards.
 * The snapshot is recorded in the state before it is requested, so no crash leaves a pvepatch
 * snapshot unrecorded. Any failure throws 'protection-failed' and the guest is not patched. Older
 * pvepatch snapshots beyond `snapshot_keep` are deleted afterwards — only ones pvepatch recorded.
 */
export const protect: Stage = {
  name: 'protect',
  async run(ctx) {
    const { svc, target } = ctx;
    if (svc.config.protection === 'none') {
      ctx.result.protection = 'none';
      ctx.log('protection: none (configured) - no snapshot taken', { essential: true });
      return { status: 'skipped', reason: 'protection: none' };
    }
    const g = target.guest;
    const name = snapshotName(svc.now?.() ?? new Date());
    const rec: Omit<SnapshotRecord, 'at'> = {
      run_id: ctx.runId,
      vmid: g.vmid,
      node: g.node,
      type: g.type,
      name,
      state: 'intended',
      ...(target.transport ? { transport: target.transport } : {}),
    };
    await svc.store.recordSnapshot(rec);
    ctx.log(`creating snapshot '${name}'`);
    const asked = Date.now();
    try {
      const outcome = await createSnapshot(svc.client, g, name, {
        description: `pvepatch before patching (run ${ctx.runId})`,
        timeoutMs: svc.config.task_timeout * 1000,
        onUpid: (upid) => svc.store.recordSnapshot({ ...rec, state: 'requested', upid }),
      });
      ctx.timing.tasksMs += outcome.finishedAt - asked;
      await svc.store.recordSnapshot({ ...rec, state: 'created', upid: outcome.upid });
      ctx.result.snapshot = { name, upid: outcome.upid, finished_at: new Date(outcome.finishedAt).toISOString() };
      ctx.result.protection = 'snapshot';
      ctx.log(`snapshot '${name}' created (${outcome.upid}: ${outcome.exitstatus})`, { essential: true });
    } catch (err) {
      await settleSnapshots(svc, [g.vmid]).catch(() => {}); // recovery settles what this cannot
      if (!snapshotImpossible(err)) throw err;
      await fallback(ctx, errorMessage(err));
      return done;
    }
    await prune(ctx);
    return done;
  },
};

/** Proxmox's answer when the guest's storage or mount points cannot take a snapshot at all. */
function snapshotImpossible(err: unknown): boolean {
  return errorMessage(err).includes('snapshot feature is not available');
}

/**
 * No snapshot is possible: `fallback: skip` (the default) leaves the guest alone; `fallback: vzdump`
 * backs it up to the policy's storage and waits for that backup before patching; `fallback: backup`
 * accepts a recent enough backup on the Proxmox Backup Server (backup-protection.ts).
 */
async function fallback(ctx: GuestContext, why: string): Promise<void> {
  const { svc, target, policy } = ctx;
  const g = target.guest;
  if (policy.fallback === 'backup') return protectWithPbsBackup(ctx, why);
  if (policy.fallback !== 'vzdump') {
    throw new PvepatchError(
      'protection-failed',
      `${why}; policy fallback is skip, so the guest is not patched - set 'fallback vzdump' and 'fallback-storage <storage>' for it to be backed up instead, or 'fallback backup' to accept a recent PBS backup`,
    );
  }
  if (!policy.fallbackStorage) {
    throw new PvepatchError(
      'protection-failed',
      `${why}; fallback vzdump needs 'fallback-storage <storage>' in the policy`,
    );
  }
  ctx.log(`no snapshot possible (${why}); backing up to storage '${policy.fallbackStorage}' instead`, {
    essential: true,
  });
  const asked = Date.now();
  try {
    const outcome = await backupGuest(svc.client, g, policy.fallbackStorage, {
      timeoutMs: svc.config.task_timeout * 1000,
    });
    ctx.timing.tasksMs += outcome.finishedAt - asked;
    ctx.result.protection = 'vzdump';
    ctx.result.backup = { storage: policy.fallbackStorage, upid: outcome.upid };
    ctx.log(`backup to '${policy.fallbackStorage}' done (${outcome.upid}: ${outcome.exitstatus})`, { essential: true });
  } catch (err) {
    throw new PvepatchError('protection-failed', `${why}; the fallback backup failed too - ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

async function prune(ctx: GuestContext): Promise<void> {
  const { svc, target } = ctx;
  const g = target.guest;
  const ours = new Set(
    svc.store
      .snapshotsOf(g.vmid)
      .filter((r) => r.state === 'created')
      .map((r) => r.name),
  );
  const record = (name: string, state: 'deleting' | 'deleted') => {
    const r = svc.store.snapshotsOf(g.vmid).find((x) => x.name === name);
    return r ? svc.store.recordSnapshot({ ...r, state }) : Promise.resolve();
  };
  try {
    const pruned = await pruneSnapshots(svc.client, g, ctx.snapshotKeep ?? svc.config.snapshot_keep, ours, {
      deleting: (name) => record(name, 'deleting'),
      deleted: (name) => record(name, 'deleted'),
    });
    if (pruned.length > 0) {
      ctx.result.pruned_snapshots = pruned;
      ctx.log(`deleted older pvepatch snapshot(s): ${pruned.join(', ')}`);
    }
  } catch (err) {
    ctx.log(`warning: unable to delete older pvepatch snapshots - ${errorMessage(err)}`);
  }
}
