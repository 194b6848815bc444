import type { Guest } from '../proxmox/inventory.js';
import { PctTransport } from './pct/index.js';
import type { Transport } from './types.js';

export interface TransportSettings {
  pctPath: string;
  localNode: string;
  defaultTimeoutMs: number;
}

type Factory = (guest: Guest, settings: TransportSettings) => Transport;

/** One line per transport; a test keeps this in sync with the folders beside it. */
export const transports = new Map<string, Factory>();
transports.set(
  'pct',
  (g, s) => new PctTransport(g, { pctPath: s.pctPath, localNode: s.localNode, defaultTimeoutMs: s.defaultTimeoutMs }),
);

/** Which transport reaches a guest, or why none does. */
export function transportFor(guest: Guest): { name: string } | { skip: string } {
  if (guest.type === 'lxc') return { name: 'pct' };
  return { skip: 'VMs are not supported yet (QEMU guest agent and SSH transports are planned)' };
}

export function createTransport(name: string, guest: Guest, settings: TransportSettings): Transport {
  const factory = transports.get(name);
  if (!factory) throw new Error(`unknown transport '${name}'`);
  return factory(guest, settings);
}
