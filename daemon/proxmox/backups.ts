import { z } from 'zod';
import type { ProxmoxClient } from './client.js';
import type { Guest } from './inventory.js';
import { parseUpid } from './upid.js';

export interface RunningBackup {
  upid: string;
  node: string;
  /** The vmid the task names, or '' when it covers several guests (PVE leaves id empty then). */
  id: string;
  source: 'node' | 'cluster';
}

const NodeTask = z.looseObject({ upid: z.string(), type: z.string().optional(), id: z.string().optional() });
const ClusterTask = z.looseObject({
  upid: z.string(),
  type: z.string().optional(),
  id: z.string().optional(),
  node: z.string().optional(),
  endtime: z.unknown().optional(),
  status: z.unknown().optional(),
});

/**
 * Running vzdump tasks that may cover this guest: from the node's active task list and from
 * /cluster/tasks (running = no endtime). A vzdump with an empty id backs up several guests and
 * is treated as covering every guest on its node — the safe reading.
 */
export async function runningBackupsFor(client: ProxmoxClient, g: Guest): Promise<RunningBackup[]> {
  const found = new Map<string, RunningBackup>();
  // both lists are asked for at once: one API latency, not two
  const [nodeList, clusterList] = await Promise.all([
    client.get(`/nodes/${encodeURIComponent(g.node)}/tasks`, { source: 'active', typefilter: 'vzdump' }),
    client.get('/cluster/tasks'),
  ]);
  const nodeTasks = z.array(NodeTask).parse(nodeList);
  for (const t of nodeTasks) {
    if (t.type === 'vzdump' && covers(t.id, g))
      found.set(t.upid, { upid: t.upid, node: g.node, id: t.id ?? '', source: 'node' });
  }
  const clusterTasks = z.array(ClusterTask).parse(clusterList);
  for (const t of clusterTasks) {
    if (t.type !== 'vzdump' || t.endtime !== undefined || t.status !== undefined) continue;
    const node = t.node ?? safeNode(t.upid);
    if (node === g.node && covers(t.id, g) && !found.has(t.upid)) {
      found.set(t.upid, { upid: t.upid, node, id: t.id ?? '', source: 'cluster' });
    }
  }
  return [...found.values()];
}

function covers(id: string | undefined, g: Guest): boolean {
  return !id || id === String(g.vmid);
}

function safeNode(upid: string): string | undefined {
  try {
    return parseUpid(upid).node;
  } catch {
    return undefined;
  }
}
