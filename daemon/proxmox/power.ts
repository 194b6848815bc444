import { z } from 'zod';
import type { ProxmoxClient } from './client.js';
import type { Guest } from './inventory.js';

type GuestAddr = Pick<Guest, 'node' | 'type' | 'vmid'>;

const base = (g: GuestAddr) => `/nodes/${encodeURIComponent(g.node)}/${g.type}/${g.vmid}`;

const Status = z.looseObject({
  status: z.string(),
  uptime: z.coerce.number().optional(),
  qmpstatus: z.string().optional(),
  /**
   * pve-ha-manager `HA/Config.pm` `get_service_status`: `managed` 1 for a configured HA resource that
   * is not `ignored`, `state` the CRM's service state (absent while queued).
   */
  ha: z.looseObject({ managed: z.coerce.number(), state: z.string().optional() }).optional(),
});
export type GuestStatus = z.infer<typeof Status>;

/** `status/current`: running or stopped, and seconds since the guest last started. */
export async function guestStatus(client: ProxmoxClient, g: GuestAddr): Promise<GuestStatus> {
  return Status.parse(await client.get(`${base(g)}/status/current`));
}

/** `POST status/reboot`: PVE shuts the guest down cleanly (through the agent for VMs) and starts it again. */
export async function requestReboot(client: ProxmoxClient, g: GuestAddr, timeoutS?: number): Promise<string> {
  const upid = await client.request<string>('POST', `${base(g)}/status/reboot`, {
    ...(timeoutS === undefined ? {} : { timeout: timeoutS }),
  });
  return z.string().parse(upid);
}

/** `POST snapshot/<name>/rollback` with `start=1`: the guest runs again afterwards. */
export async function requestRollback(client: ProxmoxClient, g: GuestAddr, name: string): Promise<string> {
  const upid = await client.request<string>('POST', `${base(g)}/snapshot/${encodeURIComponent(name)}/rollback`, {
    start: 1,
  });
  return z.string().parse(upid);
}
