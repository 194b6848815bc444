import { PvepatchError } from '../core/errors.js';
import { guestStatus } from '../proxmox/power.js';
import { nextPollMs } from '../proxmox/tasks.js';
import { AgentApi } from '../transports/qga/agent-api.js';
import type { GuestContext } from './context.js';

/**
 * Waits until a guest that was restarted at `since` (epoch ms) answers again: running, its uptime
 * younger than the restart, and for a VM its guest agent answering a ping. Throws 'timeout' at
 * `deadline`, naming what was last seen.
 */
export async function waitComeBack(ctx: GuestContext, since: number, deadline: number): Promise<number> {
  const { svc, target } = ctx;
  const g = target.guest;
  let last = 'no answer yet';
  let wait = 0;
  const started = Date.now();
  for (;;) {
    try {
      const st = await guestStatus(svc.client, g);
      const fresh = st.uptime !== undefined && st.uptime <= (Date.now() - since) / 1000 + 2;
      if (st.status !== 'running') last = `status ${st.status}`;
      else if (!fresh) last = `still up for ${st.uptime}s (not restarted yet)`;
      else if (g.type === 'qemu') {
        await new AgentApi(svc.client, g).ping();
        return Date.now();
      } else return Date.now();
    } catch (err) {
      // a guest on its way down and up is unreachable for a while (the agent's refusals included)
      if (!(err instanceof PvepatchError) || err.code !== 'unreachable') throw err;
      last = err.message;
    }
    if (Date.now() >= deadline) {
      throw new PvepatchError(
        'timeout',
        `${g.type === 'lxc' ? 'CT' : 'VM'} ${g.vmid} did not come back within ${Math.round((deadline - since) / 1000)}s (last seen: ${last})`,
      );
    }
    wait = Math.max(250, nextPollMs(Date.now() - started, wait, 250));
    await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(0, deadline - Date.now()))));
  }
}
