import type { FleetRow } from '../engine/fleet.js';
import { parseSelector, selectGuests } from '../proxmox/selectors.js';
import type { ScheduleView } from '../schedule/service.js';

export interface NextSchedule {
  id: string;
  mode: string;
  /** ISO time of its next occurrence. */
  at: string;
}

/** Each row with the enabled schedule whose next occurrence picks the guest soonest (null: none). */
export function withNextSchedule<R extends FleetRow>(
  rows: readonly R[],
  schedules: readonly ScheduleView[],
): (R & { next_schedule: NextSchedule | null })[] {
  const next = new Map<number, NextSchedule>();
  const guests = rows.map((r) => ({ ...r, pool: r.pool ?? undefined }));
  for (const s of schedules) {
    const at = s.next[0];
    if (!s.enabled || !at) continue;
    let picked: { vmid: number }[];
    try {
      picked = selectGuests({ ...parseSelector(s.selector), explicitIds: [] }, guests as never);
    } catch {
      continue; // a selector the daemon accepted once and no longer parses picks nothing here
    }
    for (const g of picked) {
      const cur = next.get(g.vmid);
      if (!cur || at < cur.at) next.set(g.vmid, { id: s.id, mode: s.mode, at });
    }
  }
  return rows.map((r) => ({ ...r, next_schedule: next.get(r.vmid) ?? null }));
}
