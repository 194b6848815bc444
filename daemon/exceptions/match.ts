import { globMatches } from '../drivers/shared/glob.js';
import type { PendingUpdate } from '../drivers/types.js';
import type { Guest } from '../proxmox/inventory.js';
import type { ExceptedPackage, PackageException } from './types.js';
import { parseTarget, stateOf } from './validate.js';

/** The exceptions that apply to a guest now: active, not expired, and naming it, one of its tags or its pool. */
export function exceptionsFor(
  all: readonly PackageException[],
  guest: Pick<Guest, 'vmid' | 'tags' | 'pool'>,
  now: Date,
) {
  return all.filter((e) => {
    if (stateOf(e, now) !== 'active') return false;
    const t = parseTarget(e.target);
    if (t.kind === 'guest') return t.vmid === guest.vmid;
    if (t.kind === 'tag') return guest.tags.includes(t.name);
    return guest.pool === t.name;
  });
}

/** Pending updates an exception keeps back, each with the first exception (by id) that matches it. */
export function exceptedUpdates(
  exceptions: readonly PackageException[],
  updates: readonly PendingUpdate[],
): ExceptedPackage[] {
  const sorted = [...exceptions].sort((a, b) => (a.id < b.id ? -1 : 1));
  const out: ExceptedPackage[] = [];
  for (const u of updates) {
    const e = sorted.find((x) => globMatches(x.package, u.package));
    if (!e) continue;
    out.push({
      package: u.package,
      current_version: u.current_version ?? null,
      new_version: u.new_version,
      exception: e.id,
      reason: e.reason,
      expires_at: e.expires_at,
    });
  }
  return out;
}
