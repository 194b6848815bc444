import type { PendingUpdate } from '../drivers/types.js';
import type { PlanDrift, SavedGuestPlan } from './types.js';

export interface ApprovedDecision {
  /** package → the approved version, for the driver to install exactly. */
  pins: Record<string, string>;
  /** Pending updates the plan did not approve: kept back. */
  unapproved: string[];
  /** Why the guest must be refused (empty: it may go ahead). */
  drift: PlanDrift[];
}

/**
 * Compares a guest's approved plan with its pending updates now. Every approved package must still
 * be installed at the version the plan started from and still be upgradable; a candidate newer
 * than approved is fine where the family can pin by version (the approved one is installed), and
 * drift where it cannot (pacman). Updates the plan did not list are kept back.
 */
export function approvedDecision(
  approved: SavedGuestPlan,
  pending: readonly PendingUpdate[],
  canPin: boolean,
): ApprovedDecision {
  const now = new Map(pending.map((u) => [u.package, u]));
  const pins: Record<string, string> = {};
  const drift: PlanDrift[] = [];
  for (const p of approved.packages) {
    const u = now.get(p.package);
    if (!u) {
      drift.push({
        package: p.package,
        approved: `${p.current_version ?? '(new)'} -> ${p.new_version}`,
        now: 'no update pending',
      });
      continue;
    }
    if ((u.current_version ?? null) !== (p.current_version ?? null)) {
      drift.push({
        package: p.package,
        approved: `${p.current_version ?? '(new)'} -> ${p.new_version}`,
        now: `${u.current_version ?? '(not installed)'} -> ${u.new_version}`,
      });
      continue;
    }
    if (u.new_version !== p.new_version && !canPin) {
      drift.push({
        package: p.package,
        approved: p.new_version,
        now: `${u.new_version} offered (this family cannot pin a version)`,
      });
      continue;
    }
    pins[p.package] = p.new_version;
  }
  const listed = new Set(approved.packages.map((p) => p.package));
  const unapproved = pending.filter((u) => !listed.has(u.package)).map((u) => u.package);
  return { pins, unapproved, drift };
}
