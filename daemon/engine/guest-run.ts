import { errorMessage } from '../core/errors.js';
import type { GuestOutcome } from '../store/state.js';
import type { GuestContext, Stage } from './context.js';
import { Slots } from './pool.js';
import { rollBack } from './rollback.js';
import { connect } from './stages/connect.js';
import { detect } from './stages/detect.js';
import { gate } from './stages/gate.js';
import { postPatch, postReboot, preGuest } from './stages/hooks.js';
import { inspect } from './stages/inspect.js';
import { patch } from './stages/patch.js';
import { protect } from './stages/protect.js';
import { reboot } from './stages/reboot.js';
import { updates } from './stages/updates.js';
import { verify } from './stages/verify.js';
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
 * Planning is connect (transport and agent precondition), detect (OS and driver), inspect (space,
 * package database, units failed before), updates (refresh and list; a dry run ends here).
 * The stages of one pool share one guest shell session where the transport has one.
 */
export const PLAN_STAGES: readonly Stage[] = [connect, detect, inspect, updates, preGuest];

/** A run of reboots deferred to the reboot window: gated like a patch, entered, rebooted, verified. */
export const REBOOT_STAGES: readonly PooledStage[] = [
  { stage: gate, pool: 'plan' },
  { stage: connect, pool: 'plan' },
  { stage: detect, pool: 'plan' },
  { stage: inspect, pool: 'plan' },
  { stage: gate, pool: 'patch' },
  { stage: reboot, pool: 'patch' },
  { stage: postReboot, pool: 'patch' },
  { stage: verify, pool: 'patch' },
];

export const STAGES: readonly PooledStage[] = [
  { stage: gate, pool: 'plan' },
  ...PLAN_STAGES.map((stage) => ({ stage, pool: 'plan' as const })),
  { stage: gate, pool: 'snapshot' },
  { stage: protect, pool: 'snapshot' },
  { stage: patch, pool: 'patch' },
  { stage: postPatch, pool: 'patch' },
  { stage: reboot, pool: 'patch' },
  { stage: postReboot, pool: 'patch' },
  { stage: verify, pool: 'patch' },
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
const TOUCHES_GUEST: ReadonlySet<string> = new Set(['patch', 'post-patch', 'reboot', 'post-reboot', 'verify']);

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
  let scoped = false; // a session scope is open on ctx.exec for the held pool
  const leavePool = async () => {
    if (scoped) await ctx.exec?.end();
    scoped = false;
    held?.release();
  };
  try {
    for (const { stage, pool } of stages) {
      if (held?.pool !== pool) {
        await leavePool();
        const asked = Date.now();
        held = { pool, release: await pools[pool].acquire() };
        ctx.timing.queuedMs += Date.now() - asked;
      }
      if (ctx.stopping()) {
        const cause = ctx.stopWhy?.() ?? 'daemon stopping';
        const why = `${cause} - stopped before stage '${stage.name}'`;
        // the upgrade is done: the guest is updated, only its reboot and checks did not happen
        if (ctx.result.changed !== undefined) return finish(ctx, 'updated', `${why} (not rebooted or verified)`);
        // a cancelled run skips the guests it had not changed; a stopping daemon interrupts them
        return finish(ctx, cause.startsWith('run cancelled') ? 'skipped' : 'interrupted', why);
      }
      if (ctx.exec && !scoped) {
        ctx.exec.begin();
        scoped = true;
      }
      onStage(stage.name);
      try {
        const r = await stage.run(ctx);
        if (r.status === 'halt') return finish(ctx, r.outcome, r.reason);
      } catch (err) {
        if (!TOUCHES_GUEST.has(stage.name)) return finish(ctx, 'refused', `${stage.name}: ${errorMessage(err)}`);
        const reason = `${stage.name}: ${errorMessage(err)}`;
        if (ctx.policy.onFailure !== 'rollback') return finish(ctx, 'failed', reason);
        onStage('rollback');
        await rollBack(ctx, reason);
        return finish(ctx, ctx.result.rollback?.ok ? 'rolled-back' : 'failed', reason);
      }
    }
    return finish(ctx, 'updated', undefined);
  } finally {
    await leavePool().catch(() => {});
    await ctx.exec?.transport.close?.().catch(() => {});
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
