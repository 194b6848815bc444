import { z } from 'zod';
import type { ProxmoxClient } from './client.js';
import type { Guest } from './inventory.js';
import { type TaskOutcome, waitForTask } from './tasks.js';

/**
 * A backup of one guest to a named storage (`POST /nodes/{node}/vzdump`, mode snapshot: the guest
 * keeps running), waited for. The protection when a snapshot is impossible (fallback: vzdump).
 */
export async function backupGuest(
  client: ProxmoxClient,
  g: Pick<Guest, 'node' | 'type' | 'vmid'>,
  storage: string,
  opts: { timeoutMs: number; onUpid?: (upid: string) => void },
): Promise<TaskOutcome> {
  const upid = z.string().parse(
    await client.request('POST', `/nodes/${encodeURIComponent(g.node)}/vzdump`, {
      vmid: String(g.vmid),
      storage,
      mode: 'snapshot',
    }),
  );
  opts.onUpid?.(upid);
  return waitForTask(client, upid, {
    timeoutMs: opts.timeoutMs,
    what: `back up ${g.type === 'lxc' ? 'CT' : 'VM'} ${g.vmid} to storage '${storage}'`,
  });
}
