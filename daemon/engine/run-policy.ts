import { resolvePolicy } from '../policy/resolve.js';
import type { GuestPolicy } from '../policy/types.js';
import type { SshSettings } from '../transports/types.js';

export type { GuestPolicy };

/** A guest's policy when no policy file says anything (built-in defaults). */
export function defaultPolicy(g: { vmid: number; type: 'lxc' | 'qemu'; tags: readonly string[] }): GuestPolicy {
  return resolvePolicy({ name: '(no policy file)', sections: [] }, g);
}

/** How to reach the guest over SSH, when its policy says (an address and a key). */
export function sshOf(p: GuestPolicy): SshSettings | undefined {
  if (!p.address || !p.sshKey) return undefined;
  return {
    host: p.address,
    port: p.sshPort,
    user: p.sshUser,
    key: p.sshKey,
    ...(p.sshFingerprint ? { fingerprint: p.sshFingerprint } : {}),
  };
}
