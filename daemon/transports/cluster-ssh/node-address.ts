import { isIP } from 'node:net';
import { errorMessage, UnreachableError } from '../../core/errors.js';
import type { ProxmoxClient } from '../../proxmox/client.js';

/** How long one `/cluster/status` answer serves the address lookups. */
const TTL_MS = 10_000;

type Entry = { type?: string; name?: string; ip?: string };
const cache = new WeakMap<ProxmoxClient, { at: number; list: Promise<Entry[]> }>();

/** The node's cluster address (`/cluster/status`, its `type: 'node'` entry's `ip`), asked at most every 10 s. */
export async function nodeAddress(client: ProxmoxClient, node: string): Promise<string> {
  const now = Date.now();
  let hit = cache.get(client);
  if (!hit || now - hit.at > TTL_MS) {
    const list = client.get<Entry[]>('/cluster/status');
    hit = { at: now, list };
    cache.set(client, hit);
    list.catch(() => {
      if (cache.get(client) === hit) cache.delete(client); // a failed answer is not kept
    });
  }
  let entries: Entry[];
  try {
    entries = await hit.list;
  } catch (err) {
    throw new UnreachableError(
      `unable to reach node '${node}' over the cluster's SSH - its address could not be read from the PVE API (/cluster/status): ${errorMessage(err)}`,
      { cause: err },
    );
  }
  const ip = (Array.isArray(entries) ? entries : []).find((e) => e.type === 'node' && e.name === node)?.ip;
  if (typeof ip !== 'string' || isIP(ip) === 0) {
    throw new UnreachableError(
      `unable to reach node '${node}' over the cluster's SSH - the PVE API's /cluster/status gives ${ip === undefined ? 'no address' : `no IP address ('${ip}')`} for it; check 'pvecm status'`,
    );
  }
  return ip;
}
