import { errorMessage } from '../core/errors.js';
import type { GuestOutcome } from '../store/state.js';
import type { GuestContext, Stage } from './context.js';
import { Slots } from './pool.js';
import { gate } from './stages/gate.js';
import { patch } from './stages/patch.js';
import { precheck } from './stages/precheck.js';
import { protect } from './stages/protect.js';
import type { GuestResult } from './types.js';

/**
 * Which bounded pool a stage runs in. Planning (gate, enter, refresh, list) runs ahead for every
 * guest; snapshots are storage work with their own limit (snapshot_concurrency); upgrades are guest
 * CPU work (concurrency). So guest N+1 is snapshotted while guest N upgrades.
 */
export type PoolName = 'plan' | 'snapshot' | 'patch';
export type Pools = Record<PoolName, Slots>;

export interface PooledStage {
  stage: Stage;
  pool: PoolName;
}

/**
 * The order of a guest's stages. The gate runs before the guest is entered at all (so a guest
 * under backup is left untouched) and again right before the snapshot, since time has passed.
 */
export const STAGES: readonly PooledStage[] = [
  { stage: gate, pool: 'plan' },
  { stage: precheck, pool: 'plan' },
  { stage: gate, pool: 'snapshot' },
  { stage: protect, pool: 'snapshot' },
  { stage: patch, pool: 'patch' },
];

/** Pools for one run: planning as wide as the upgrades, snapshots by their own limit. */
export function runPools(config: { concurrency: number; snapshot_concurrency: number }): Pools {
  return {
    plan: new Slots(config.concurrency),
    snapshot: new Slots(config.snapshot_concurrency),
    patch: new Slots(config.concurrency),
  };
}

/**
 * Until the patch stage starts nothing in the guest has changed (only package lists were
 * refreshed), so any error before it — a gate, a failed snapshot, an unreachable guest or API —
 * leaves the guest "refused" and untouched; an error in the patch stage is "failed".
 */
const TOUCHES_GUEST: ReadonlySet<string> = new Set(['patch']);

/**
 * Runs the stages in order. A stage, once started, runs to its end; a daemon that is stopping
 * starts no further stage and the guest ends "interrupted" where it stands.
 */
export async function runGuest(
  ctx: GuestContext,
  pools: Pools = runPools({ concurrency: 1, snapshot_concurrency: 1 }),
  onStage: (name: string) => void = () => {},
  stages: readonly PooledStage[] = STAGES,
): Promise<GuestResult> {
  if (ctx.target.skip_reason) return finish(ctx, 'skipped', ctx.target.skip_reason);
  let held: { pool: PoolName; release: () => void } | undefined;
  try {
    for (const { stage, pool } of stages) {
      if (held?.pool !== pool) {
        held?.release();
        const asked = Date.now();
        held = { pool, release: await pools[pool].acquire() };
        ctx.timing.queuedMs += Date.now() - asked;
      }
      if (ctx.stopping()) return finish(ctx, 'interrupted', `daemon stopping - stopped before stage '${stage.name}'`);
      onStage(stage.name);
      try {
        const r = await stage.run(ctx);
        if (r.status === 'halt') return finish(ctx, r.outcome, r.reason);
      } catch (err) {
        const outcome: GuestOutcome = TOUCHES_GUEST.has(stage.name) ? 'failed' : 'refused';
        return finish(ctx, outcome, `${stage.name}: ${errorMessage(err)}`);
      }
    }
    return finish(ctx, 'updated', undefined);
  } finally {
    held?.release();
  }
}

/**
 * Where the guest's time went: waiting for its guest commands, for Proxmox tasks (snapshots) and
 * for a free slot in a pool; the rest is pvepatch's own work (API calls, state writes, parsing).
 */
function timingOf(c: GuestContext): NonNullable<GuestResult['timing']> {
  const total = Date.now() - c.timing.started;
  const guest = c.exec?.guestMs ?? 0;
  const { tasksMs, queuedMs } = c.timing;
  return {
    total_ms: total,
    guest_ms: guest,
    tasks_ms: tasksMs,
    queued_ms: queuedMs,
    other_ms: Math.max(0, total - guest - tasksMs - queuedMs),
  };
}

function finish(c: GuestContext, outcome: GuestOutcome, reason: string | undefined): GuestResult {
  c.result.outcome = outcome;
  if (reason !== undefined) c.result.reason = reason;
  if (c.exec) c.result.exec = { round_trips: c.exec.roundTrips, commands: c.exec.execs, guest_ms: c.exec.guestMs };
  c.result.timing = timingOf(c);
  c.log(`${outcome}${reason ? `: ${reason}` : ''}`, { essential: true });
  return c.result;
}
