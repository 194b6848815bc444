import { clusterSsh } from './cluster-ssh/index.js';
import { pct } from './pct/index.js';
import { qga } from './qga/index.js';
import { ssh } from './ssh/index.js';
import type { GuestRef, Transport, TransportDef, TransportEnv } from './types.js';

/** One line per transport; a test keeps this in sync with the folders beside it. */
export const transports = new Map<string, TransportDef>([
  [clusterSsh.name, clusterSsh],
  [pct.name, pct],
  [qga.name, qga],
  [ssh.name, ssh],
]);

/** The transport a guest type gets when its policy names none. */
const DEFAULT_FOR: Record<GuestRef['type'], string> = { lxc: 'pct', qemu: 'qga' };

/**
 * A container on another node goes through the cluster's SSH when `cluster_ssh` is on (only a node
 * whose daemon is not running hands its guests to this one); otherwise the type's default.
 */
function defaultFor(guest: GuestRef, env: TransportEnv): string {
  if (guest.type === 'lxc' && guest.node !== env.node && env.config.cluster_ssh) return clusterSsh.name;
  return DEFAULT_FOR[guest.type];
}

/** Which transport reaches a guest (the policy's choice, else the type's default), or why none does. */
export function transportFor(
  guest: GuestRef,
  env: TransportEnv,
  preferred?: string,
): { name: string } | { skip: string } {
  const name = preferred ?? defaultFor(guest, env);
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
