import { pct } from './pct/index.js';
import { qga } from './qga/index.js';
import { ssh } from './ssh/index.js';
import type { GuestRef, Transport, TransportDef, TransportEnv } from './types.js';

/** One line per transport; a test keeps this in sync with the folders beside it. */
export const transports = new Map<string, TransportDef>([
  [pct.name, pct],
  [qga.name, qga],
  [ssh.name, ssh],
]);

/** The transport a guest type gets when its policy names none. */
const DEFAULT_FOR: Record<GuestRef['type'], string> = { lxc: 'pct', qemu: 'qga' };

/** Which transport reaches a guest (the policy's choice, else the type's default), or why none does. */
export function transportFor(
  guest: GuestRef,
  env: TransportEnv,
  preferred?: string,
): { name: string } | { skip: string } {
  const name = preferred ?? DEFAULT_FOR[guest.type];
  const def = transports.get(name);
  if (!def) return { skip: `unknown transport '${name}' (known: ${[...transports.keys()].join(', ')})` };
  const kind = guest.type === 'lxc' ? 'containers' : 'VMs';
  if (!def.types.includes(guest.type)) return { skip: `transport '${name}' cannot reach ${kind}` };
  const refused = def.refuses(guest, env);
  return refused ? { skip: refused } : { name };
}

export function createTransport(name: string, guest: GuestRef, env: TransportEnv): Transport {
  const def = transports.get(name);
  if (!def) throw new Error(`unknown transport '${name}'`);
  return def.create(guest, env);
}
