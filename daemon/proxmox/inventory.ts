import { z } from 'zod';
import type { ProxmoxClient } from './client.js';

/** A guest as pvepatch sees it; built from /cluster/resources, which is cluster-wide. */
export interface Guest {
  vmid: number;
  type: 'lxc' | 'qemu';
  node: string;
  name: string;
  status: string;
  template: boolean;
  tags: string[];
  pool?: string;
  lock?: string;
}

// Declares only the fields used; Proxmox adds fields and resource types between releases.
const Resource = z.looseObject({
  type: z.string(),
  vmid: z.coerce.number().int().optional(),
  node: z.string().optional(),
  name: z.string().optional(),
  status: z.string().optional(),
  template: z.union([z.number(), z.boolean(), z.string()]).optional(),
  tags: z.string().optional(),
  pool: z.string().optional(),
  lock: z.string().optional(),
});

export function parseResources(data: unknown): Guest[] {
  const items = z.array(z.unknown()).parse(data);
  const guests: Guest[] = [];
  for (const item of items) {
    const r = Resource.safeParse(item);
    if (!r.success) continue; // an entry we cannot read is not a guest we may touch
    const { type, vmid, node } = r.data;
    if ((type !== 'lxc' && type !== 'qemu') || vmid === undefined || !node) continue;
    guests.push({
      vmid,
      type,
      node,
      name: r.data.name ?? `${type}-${vmid}`,
      status: r.data.status ?? 'unknown',
      template: ['1', 'true'].includes(String(r.data.template ?? 0)),
      tags: splitTags(r.data.tags),
      ...(r.data.pool ? { pool: r.data.pool } : {}),
      ...(r.data.lock ? { lock: r.data.lock } : {}),
    });
  }
  return guests.sort((a, b) => a.vmid - b.vmid);
}

/** PVE stores tags separated by ';' (older releases also ',' or spaces). */
export function splitTags(tags: string | undefined): string[] {
  return (tags ?? '').split(/[;,\s]+/).filter(Boolean);
}

export async function listGuests(client: ProxmoxClient): Promise<Guest[]> {
  return parseResources(await client.get('/cluster/resources', { type: 'vm' }));
}

const GuestConfig = z.looseObject({
  lock: z.string().optional(),
  ostype: z.string().optional(),
  agent: z.union([z.string(), z.number()]).optional(),
});

/**
 * Whether a VM config enables the guest agent: `agent: 1`, `agent: enabled=1,fstrim_cloned_disks=1`
 * or `agent: 1,type=virtio` (qemu-server's property string, the first key may be implicit).
 */
export function agentEnabled(agent: string | number | undefined): boolean {
  if (agent === undefined) return false;
  for (const part of String(agent).split(',')) {
    const eq = part.indexOf('=');
    const [key, value] = eq < 0 ? ['enabled', part] : [part.slice(0, eq).trim(), part.slice(eq + 1).trim()];
    if (key === 'enabled') return value === '1' || value === 'yes' || value === 'true' || value === 'on';
  }
  return false;
}

/**
 * The guest's config as it is in effect (`current=1`); without it PVE answers with pending changes
 * applied — an `agent: 1` set on a running VM shows there before the VM's next start makes it real.
 */
export async function guestConfig(
  client: ProxmoxClient,
  g: Pick<Guest, 'node' | 'type' | 'vmid'>,
  opts: { pending?: boolean } = {},
) {
  const path = `/nodes/${encodeURIComponent(g.node)}/${g.type}/${g.vmid}/config`;
  return GuestConfig.parse(await client.get(path, opts.pending ? {} : { current: 1 }));
}
