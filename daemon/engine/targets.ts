import { listGuests } from '../proxmox/inventory.js';
import { parseSelector, selectGuests } from '../proxmox/selectors.js';
import { transportFor } from '../transports/index.js';
import type { EngineServices, Target } from './types.js';

/** Resolves a selector to guests with the transport that reaches each, or why none does. */
export async function resolveTargets(svc: EngineServices, selector: string[]): Promise<Target[]> {
  const sel = parseSelector(selector);
  const guests = selectGuests(sel, await listGuests(svc.client));
  return guests.map((guest) => {
    if (guest.template)
      return { guest, transport: null, skip_reason: 'guest is a template (templates are never patched)' };
    if (guest.status !== 'running')
      return { guest, transport: null, skip_reason: `guest is ${guest.status} (only running guests are patched)` };
    const t = transportFor(guest);
    if ('skip' in t) return { guest, transport: null, skip_reason: t.skip };
    if (guest.type === 'lxc' && guest.node !== svc.node) {
      return {
        guest,
        transport: null,
        skip_reason: `CT runs on node '${guest.node}'; pct reaches only this node ('${svc.node}')`,
      };
    }
    return { guest, transport: t.name, skip_reason: null };
  });
}
