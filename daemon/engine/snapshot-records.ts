/**
 * Settling snapshot records against what Proxmox has. A record left `intended`, `requested` or
 * `deleting` by a crash or a failed request becomes `created` when the snapshot is listed, and
 * `absent` / `deleted` only once nothing can still change that: a `requested` snapshot's task has
 * stopped (checked before the list is read), and an `intended` one — whose POST got no answer, so
 * Proxmox may still carry it out — has been missing for the grace period. Only GETs are sent.
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

/** How long a POST without an answer may still turn into a snapshot: a few API timeouts. */
function graceMs(svc: EngineServices): number {
  return 3 * svc.config.api_timeout * 1000;
}

/** Settles the unsettled records of these guests (all when omitted); returns how many remain unsettled. */
export async function settleSnapshots(
  svc: EngineServices,
  vmids?: readonly number[],
  log: (line: string) => void = () => {},
): Promise<number> {
  const open = unsettled(svc, vmids);
  for (const vmid of new Set(open.map((r) => r.vmid))) {
    try {
      await settleGuest(
        svc,
        vmid,
        open.filter((r) => r.vmid === vmid),
        log,
      );
    } catch (err) {
      log(`unable to settle snapshot records of ${vmid} - ${errorMessage(err)}; will retry`);
    }
  }
  return unsettled(svc, vmids).length;
}

async function settleGuest(
  svc: EngineServices,
  vmid: number,
  records: SnapshotRecord[],
  log: (line: string) => void,
): Promise<void> {
  const stillRunning = new Set<SnapshotRecord>();
  for (const r of records)
    if (r.state === 'requested' && r.upid && (await taskRunning(svc, r.upid))) stillRunning.add(r);
  const names = await listedNames(svc, records[0]!);
  const set = async (r: SnapshotRecord, state: SnapshotRecord['state']) => {
    if (state === r.state) return;
    await svc.store.recordSnapshot({ ...r, state });
    log(`snapshot '${r.name}' of ${vmid} (run ${r.run_id}) was ${r.state}, now ${state}`);
  };
  for (const r of records) {
    if (names.has(r.name)) await set(r, 'created');
    else if (r.state === 'deleting') await set(r, 'deleted');
    else if (r.state === 'requested' && !stillRunning.has(r)) await set(r, 'absent');
    else if (r.state === 'intended' && Date.now() - Date.parse(r.at) > graceMs(svc)) await set(r, 'absent');
  }
  // a recorded snapshot someone else deleted is no longer one pvepatch may count or prune
  for (const r of svc.store.snapshotsOf(vmid)) if (r.state === 'created' && !names.has(r.name)) await set(r, 'deleted');
}

/** The guest's snapshot names; none when the guest is gone (its snapshots went with it). */
async function listedNames(svc: EngineServices, r: SnapshotRecord): Promise<Set<string>> {
  try {
    return new Set((await listSnapshots(svc.client, r)).map((s) => s.name));
  } catch (err) {
    if (err instanceof ProxmoxApiError && err.message.includes('does not exist')) return new Set();
    throw err;
  }
}

const TaskStatus = z.looseObject({ status: z.string() });

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
