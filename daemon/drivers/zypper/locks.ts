/**
 * Exclusions as zypper locks that pvepatch adds for one run and removes afterwards — only the ones
 * it added. An admin's lock is never added again, never removed: `zypper removelock NAME` removes
 * only a lock whose query is exactly the plain name, so repo- or version-bound admin locks on the
 * same name survive, and plain ones are left out of the run's locks in the first place.
 */
import { withTemporaryHolds } from '../shared/temporary-holds.js';
import type { DriverContext, UpgradeOptions } from '../types.js';
import { PATCH_HOLD_PREFIX } from './commands.js';
import { isPlainPackageLock, lockMatches, type ZypperLock } from './parse.js';
import * as step from './steps.js';

export interface LockPlan {
  /** Locks pvepatch adds: package names, and `patch:ID` for security patches it must skip. */
  holds: string[];
  /** Needed security patches that would touch an excluded or admin-locked package. */
  skippedPatches: Array<{ id: string; because: string[] }>;
}

/**
 * Package locks for the exclusions (minus plain locks the admin already has), and — security-only —
 * patch locks for every needed security patch that covers an excluded or admin-locked package:
 * zypper would otherwise stop with "Problem: patch:ID conflicts with … Solution 1: remove lock"
 * (exit 4). A locked patch becomes `unwanted` and `zypper patch` skips it.
 */
export function planLocks(
  exclude: readonly string[],
  adminLocks: readonly ZypperLock[],
  patches: readonly step.SecurityPatch[] | null,
): LockPlan {
  const adminPlain = new Set(adminLocks.filter(isPlainPackageLock).map((l) => l.name));
  const holds = [...new Set(exclude)].filter((name) => !adminPlain.has(name));
  const skippedPatches: LockPlan['skippedPatches'] = [];
  for (const patch of patches ?? []) {
    const because = patch.packages.filter(
      (name) => exclude.includes(name) || adminLocks.some((l) => lockMatches(l, name)),
    );
    if (because.length === 0) continue;
    skippedPatches.push({ id: patch.id, because });
    holds.push(`${PATCH_HOLD_PREFIX}${patch.id}`);
  }
  return { holds, skippedPatches };
}

/** The run's own holds around `fn` (see withTemporaryHolds). */
export function withRunLocks<T>(
  ctx: DriverContext,
  holds: string[],
  record: UpgradeOptions['recordHolds'],
  fn: () => Promise<T>,
): Promise<T> {
  return withTemporaryHolds(
    ctx,
    holds,
    record,
    { apply: (h) => step.lock(ctx, 'add', h), release: (h) => step.lock(ctx, 'remove', h) },
    fn,
  );
}
