/**
 * The fleet overview: every guest with its last plan (pending and security counts, packages, how
 * old), its last run outcome and any reboot still pending — from memory, so a page load does not
 * re-plan every guest. Plans are cached by every plan request (and `refresh`).
 */
import type { RunStore } from '../store/runs.js';
import type { RebootStatus } from '../store/state.js';
import type { GuestPlan, Target } from './types.js';

export interface FleetRow {
  vmid: number;
  name: string;
  node: string;
  type: 'lxc' | 'qemu';
  status: string;
  tags: string[];
  pool: string | null;
  transport: string | null;
  skip_reason: string | null;
  driver: string | null;
  os: string | null;
  updates_available: number | null;
  security_updates: number | null;
  packages: GuestPlan['packages'];
  /** Packages the plan leaves alone: the admin's holds in the guest and the run's exclusions. */
  held: string[];
  /** Pending updates kept back by a package exception, with its reason. */
  excepted: GuestPlan['excepted'];
  /** When the cached plan was made (null: never planned since the daemon started) and its age. */
  planned_at: string | null;
  plan_age_s: number | null;
  last_run: { id: string; outcome: string; ended_at: string | null } | null;
  reboot: RebootStatus | null;
  /** Set when the guest's node has no reachable pvepatch daemon (cluster): why; its plan and runs are unknown. */
  unreachable?: string;
}

/** Plans kept per guest; bounded by the cluster's guest count. */
export class PlanCache {
  private readonly plans = new Map<number, { plan: GuestPlan; at: number }>();
  /** Counts changes, so an answer built from the cache knows when it is stale. */
  version = 0;

  put(plans: readonly GuestPlan[], at = Date.now()): void {
    for (const plan of plans) this.plans.set(plan.vmid, { plan, at });
    this.version++;
  }

  get(vmid: number): { plan: GuestPlan; at: number } | undefined {
    return this.plans.get(vmid);
  }

  /** Every cached plan (for the metrics). */
  all(): GuestPlan[] {
    return [...this.plans.values()].map((e) => e.plan);
  }

  /** Forgets the plan of a guest that was patched: its pending list is stale. */
  drop(vmid: number): void {
    this.plans.delete(vmid);
    this.version++;
  }
}

export function fleetRows(
  targets: readonly Target[],
  cache: PlanCache,
  runs: Pick<RunStore, 'lastRunOf' | 'rebootOf'>,
  now = Date.now(),
): FleetRow[] {
  return targets.map(({ guest: g, transport, skip_reason }) => {
    const cached = cache.get(g.vmid);
    const p = cached?.plan;
    return {
      vmid: g.vmid,
      name: g.name,
      node: g.node,
      type: g.type,
      status: g.status,
      tags: g.tags,
      pool: g.pool ?? null,
      transport: p?.transport ?? transport,
      skip_reason: p?.skip_reason ?? skip_reason,
      driver: p?.driver ?? null,
      os: p?.os ?? null,
      updates_available: p ? p.updates_available : null,
      security_updates: p ? p.security_updates : null,
      packages: p?.packages ?? [],
      held: p?.exclusions ?? [],
      excepted: p?.excepted ?? [],
      planned_at: cached ? new Date(cached.at).toISOString() : null,
      plan_age_s: cached ? Math.round((now - cached.at) / 1000) : null,
      last_run: runs.lastRunOf(g.vmid),
      reboot: runs.rebootOf(g.vmid),
    };
  });
}

/**
 * The row of a guest on a node whose pvepatch daemon cannot be asked: what the cluster inventory
 * says of it, nothing of plans or runs (they are that daemon's), and why.
 */
export function unreachableRow(target: Target, reason: string): FleetRow {
  const none = { lastRunOf: () => null, rebootOf: () => null };
  const [row] = fleetRows([{ ...target, transport: null, skip_reason: reason }], new PlanCache(), none);
  return { ...row!, unreachable: reason };
}
