/**
 * Settling snapshot records against what Proxmox has: a record left `intended`, `requested` or
 * `deleting` by a crash (or a failed request) becomes `created` when the snapshot is listed, and
 * `absent` / `deleted` when it is not and no task can still make it. Only GETs are sent.
 */
import { z } from 'zod';
import { errorMessage } from '../core/errors.js';
import { ProxmoxApiError } from '../proxmox/errors.js';
import { listSnapshots } from '../proxmox/snapshots.js';
import { parseUpid } from '../proxmox/upid.js';
import type { SnapshotRecord } from '../store/state.js';
import type { EngineServices } from './types.js';

const UNSETTLED = new Set(['intended', 'requested', 'deleting']);

export function unsettled(svc: EngineServices, vmids?: readonly number[]): SnapshotRecord[] {
  return svc.store.data.snapshots.filter((r) => UNSETTLED.has(r.state) && (!vmids || vmids.includes(r.vmid)));
}

/** Settles the unsettled records of these guests (all when omitted); returns how many remain unsettled. */
export async function settleSnapshots(
  svc: EngineServices,
  vmids?: readonly number[],
  log: (line: string) => void = () => {},
): Promise<number> {
  const open = unsettled(svc, vmids);
  for (const vmid of new Set(open.map((r) => r.vmid))) {
    const records = open.filter((r) => r.vmid === vmid);
    const first = records[0]!;
    let names: Set<string> | null;
    try {
      names = new Set((await listSnapshots(svc.client, first)).map((s) => s.name));
    } catch (err) {
      if (!(err instanceof ProxmoxApiError && err.message.includes('does not exist'))) {
        log(`unable to settle snapshot records of ${vmid} - ${errorMessage(err)}; will retry`);
        continue;
      }
      names = new Set(); // the guest is gone, and its snapshots with it
    }
    for (const r of records) {
      const next = await settledState(svc, r, names.has(r.name));
      if (next === r.state) continue;
      await svc.store.recordSnapshot({ ...r, state: next });
      log(`snapshot '${r.name}' of ${vmid} (run ${r.run_id}) was ${r.state}, now ${next}`);
    }
  }
  return unsettled(svc, vmids).length;
}

const TaskStatus = z.looseObject({ status: z.string() });

async function settledState(svc: EngineServices, r: SnapshotRecord, listed: boolean): Promise<SnapshotRecord['state']> {
  if (listed) return 'created';
  if (r.state === 'deleting') return 'deleted';
  if (r.state === 'requested' && r.upid && (await taskRunning(svc, r.upid))) return r.state;
  return 'absent';
}

/** Whether the task may still be running (an unanswered status counts as maybe: settle later). */
async function taskRunning(svc: EngineServices, upid: string): Promise<boolean> {
  try {
    const { node } = parseUpid(upid);
    const path = `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/status`;
    return TaskStatus.parse(await svc.client.get(path)).status === 'running';
  } catch {
    return true;
  }
}
