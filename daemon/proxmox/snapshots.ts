import { z } from 'zod';
import { PvepatchError } from '../core/errors.js';
import type { ProxmoxClient } from './client.js';
import type { Guest } from './inventory.js';
import { type TaskOutcome, waitForTask } from './tasks.js';

export interface Snapshot {
  name: string;
  snaptime?: number;
  description?: string;
}

export const SNAPSHOT_PREFIX = 'pvepatch-';
/** Exactly the names snapshotName makes; retention never touches any other name. */
export const SNAPSHOT_NAME = /^pvepatch-\d{8}-\d{6}$/;

const SnapshotList = z.array(
  z.looseObject({ name: z.string(), snaptime: z.coerce.number().optional(), description: z.string().optional() }),
);

type GuestAddr = Pick<Guest, 'node' | 'type' | 'vmid'>;

function base(g: GuestAddr): string {
  return `/nodes/${encodeURIComponent(g.node)}/${g.type}/${g.vmid}/snapshot`;
}

/** Snapshots of a guest, without Proxmox's 'current' pseudo-entry. */
export async function listSnapshots(client: ProxmoxClient, g: GuestAddr): Promise<Snapshot[]> {
  const list = SnapshotList.parse(await client.get(base(g)));
  return list.filter((s) => s.name !== 'current');
}

/** `pvepatch-20261122-031500`: a valid pve-configid (≤ 40 chars) that sorts by time. */
export function snapshotName(at: Date): string {
  const iso = at.toISOString(); // 2026-11-22T03:15:00.000Z
  return `${SNAPSHOT_PREFIX}${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
}

/**
 * Takes a snapshot, waits for its task and confirms it is listed. Any failure throws
 * 'protection-failed' with Proxmox's reason — the guest must then not be patched.
 */
export async function createSnapshot(
  client: ProxmoxClient,
  g: GuestAddr,
  name: string,
  opts: { description?: string; timeoutMs?: number; onUpid?: (upid: string) => Promise<void> } = {},
): Promise<TaskOutcome> {
  const what = `snapshot ${g.type === 'lxc' ? 'CT' : 'VM'} ${g.vmid} as '${name}'`;
  try {
    const upid = await client.request<string>('POST', base(g), { snapname: name, description: opts.description });
    await opts.onUpid?.(upid);
    const outcome = await waitForTask(client, upid, { what, timeoutMs: opts.timeoutMs ?? 600_000 });
    const names = (await listSnapshots(client, g)).map((s) => s.name);
    if (!names.includes(name))
      throw new PvepatchError('protection-failed', `unable to ${what} - task ended but snapshot is not listed`);
    return outcome;
  } catch (err) {
    if (err instanceof PvepatchError && err.code === 'protection-failed') throw err;
    const cause =
      err instanceof PvepatchError && err.code === 'task-failed'
        ? err.message
        : `unable to ${what} - ${(err as Error).message}`;
    throw new PvepatchError('protection-failed', cause, { cause: err });
  }
}

export async function deleteSnapshot(client: ProxmoxClient, g: GuestAddr, name: string, timeoutMs = 600_000) {
  const upid = await client.request<string>('DELETE', `${base(g)}/${encodeURIComponent(name)}`);
  return waitForTask(client, upid, { what: `delete snapshot '${name}' of ${g.vmid}`, timeoutMs });
}

export interface PruneHooks {
  /** Called before the DELETE is sent (so a crash mid-delete is settled at start-up). */
  deleting(name: string): Promise<void>;
  deleted(name: string): Promise<void>;
}

/**
 * Deletes the oldest pvepatch snapshots beyond `keep`: only names of pvepatch's exact pattern that
 * pvepatch itself recorded (`ours`); an admin's snapshots, even one named like pvepatch's, are
 * never touched.
 */
export async function pruneSnapshots(
  client: ProxmoxClient,
  g: GuestAddr,
  keep: number,
  ours: ReadonlySet<string>,
  hooks: PruneHooks,
): Promise<string[]> {
  const mine = (await listSnapshots(client, g))
    .filter((s) => SNAPSHOT_NAME.test(s.name) && ours.has(s.name))
    .sort((a, b) => (a.snaptime ?? 0) - (b.snaptime ?? 0) || a.name.localeCompare(b.name));
  const doomed = mine.slice(0, Math.max(0, mine.length - keep)).map((s) => s.name);
  for (const name of doomed) {
    await hooks.deleting(name);
    await deleteSnapshot(client, g, name);
    await hooks.deleted(name);
  }
  return doomed;
}
