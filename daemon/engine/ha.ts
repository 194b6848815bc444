import { errorMessage } from '../core/errors.js';
import type { Guest } from '../proxmox/inventory.js';
import { guestStatus } from '../proxmox/power.js';
import type { GuestContext } from './context.js';

/**
 * HA-managed guests (see ha.md): a guest's `status/reboot` and a snapshot rollback act on it directly,
 * behind the HA manager's back (qemu-server and pve-container forward only start, stop, shutdown and
 * migrate to HA), so pvepatch does neither for a guest HA manages. Whether it does is what
 * `status/current` says in `ha` (`HA/Config.pm` `get_service_status`, the same test as
 * `vm_is_ha_managed`: configured and not `ignored`), read right before the action: one call per
 * guest that is about to be rebooted or rolled back, needing only VM.Audit.
 */

/** How HA holds the guest: its resource id and the CRM's state of it. */
export interface HaHold {
  sid: string;
  state: string;
}

/** `vm:<vmid>` / `ct:<vmid>` (pve-ha-manager `HA/Tools.pm` `get_ha_resource_type`). */
export const haSid = (g: Pick<Guest, 'type' | 'vmid'>) => `${g.type === 'qemu' ? 'vm' : 'ct'}:${g.vmid}`;

/**
 * The guest's HA hold, undefined when HA leaves it alone (not a resource, or `ignored`). When its
 * status cannot be read the answer is a hold too (`state` names the error): pvepatch does not act
 * on a guest whose HA state it does not know.
 */
export async function haHold(ctx: GuestContext): Promise<HaHold | undefined> {
  const g = ctx.target.guest;
  try {
    const st = await guestStatus(ctx.svc.client, g);
    if (!st.ha?.managed) return undefined;
    return { sid: haSid(g), state: st.ha.state ?? 'queued' };
  } catch (err) {
    return { sid: haSid(g), state: `unknown - its status could not be read: ${errorMessage(err)}` };
  }
}

const what = (h: HaHold) =>
  h.state.startsWith('unknown - ')
    ? `${h.sid} may be an HA resource (${h.state})`
    : `${h.sid} is an HA resource (state ${h.state})`;

/** Why the reboot is not sent; the record stays pending. */
export function haRebootReason(h: HaHold): string {
  return `${what(h)} - a reboot through the API bypasses the HA manager; left pending: reboot it through HA or by hand, or set 'ha-manager set ${h.sid} --state ignored' for the maintenance`;
}

/** Why the rollback is not done, with the commands that do it by hand. */
export function haRollbackReason(h: HaHold, g: Pick<Guest, 'type' | 'vmid'>, snap: string): string {
  const cmd = g.type === 'lxc' ? 'pct' : 'qm';
  return `${what(h)} - a rollback stops the guest behind the HA manager, whose restarts fail on the rollback lock; roll back by hand: ha-manager set ${h.sid} --state ignored; ${cmd} rollback ${g.vmid} ${snap} --start 1; ha-manager set ${h.sid} --state started`;
}
