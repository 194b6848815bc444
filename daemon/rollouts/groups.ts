import type { Guest } from '../proxmox/inventory.js';
import type { Rollout, RolloutGuest, RolloutOptions } from './types.js';
import { FAILED } from './types.js';

/**
 * Puts guests into groups: the first `canary` guests are group 0 (when canary > 0), the rest go in
 * batches of `batch`. Guests with a tag from `tag_order` come first, in that tag order.
 */
export function groupGuests(
  ordered: readonly Guest[],
  o: Pick<RolloutOptions, 'canary' | 'batch' | 'tag_order'>,
): RolloutGuest[] {
  const rank = (g: Guest) => {
    const i = o.tag_order.findIndex((t) => g.tags.includes(t));
    return i < 0 ? o.tag_order.length : i;
  };
  const list = ordered.map((g, i) => ({ g, i })).sort((a, b) => rank(a.g) - rank(b.g) || a.i - b.i);
  return list.map(({ g }, i) => {
    const group =
      o.canary > 0 ? (i < o.canary ? 0 : 1 + Math.floor((i - o.canary) / o.batch)) : Math.floor(i / o.batch);
    return { vmid: g.vmid, name: g.name, group, node: g.node };
  });
}

/** The guests that failed so far, and whether they pass the rollout's threshold. */
export function failures(r: Pick<Rollout, 'guests' | 'options'>): { failed: RolloutGuest[]; halt: boolean } {
  const mine = r.guests.filter((g) => g.group >= 0); // not those skipped before the first group
  const failed = mine.filter((g) => g.outcome !== undefined && FAILED.has(g.outcome));
  const done = mine.filter((g) => g.outcome !== undefined).length;
  const m = r.options.max_failures;
  const halt = 'count' in m ? failed.length > m.count : done > 0 && (failed.length / done) * 100 > m.percent;
  return { failed, halt };
}
