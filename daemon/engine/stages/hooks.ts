/**
 * Hook phases inside a guest's run: pre-guest (after the updates are known, before anything in the
 * guest changes; its overrides may keep packages back, change the reboot, keep more snapshots or
 * skip the guest), post-patch (after the upgrade) and post-reboot (after a hypervisor reboot). A
 * post hook cannot change the result: a failure is a warning. Post-guest runs from the engine once
 * the guest is done, whenever pre-guest ran.
 */
import { errorMessage } from '../../core/errors.js';
import type { HookOutcome, HookPhase } from '../../hooks/index.js';
import { done, type GuestContext, type Stage, type StageResult } from '../context.js';
import { type HookFields, phaseRecord } from '../hook-session.js';

/** What a guest's hooks are told: the plan's fields (PVEPATCH__<FIELD>) and, after, the result. */
export function guestFields(ctx: GuestContext, extra: HookFields = {}): HookFields {
  const g = ctx.target.guest;
  const updates = ctx.updates ?? [];
  return {
    run_id: ctx.runId,
    vmid: g.vmid,
    node: g.node,
    type: g.type,
    name: g.name,
    tags: g.tags,
    pool: g.pool ?? '',
    driver: ctx.driver?.name ?? '',
    transport: ctx.result.transport ?? ctx.policy.transport,
    os: ctx.os ?? '',
    updates: updates.length,
    security_updates: updates.filter((u) => u.security).length,
    packages: updates.map((u) => u.package),
    exclude: ctx.exclude,
    reboot: ctx.policy.reboot,
    on_failure: ctx.policy.onFailure,
    snapshot: ctx.result.snapshot?.name ?? '',
    snapshot_keep: ctx.snapshotKeep ?? ctx.svc.config.snapshot_keep,
    dry_run: ctx.dryRun,
    security_only: ctx.securityOnly,
    pct: ctx.svc.config.pct,
    ...extra,
  };
}

/** The guest's whole plan, for PVEPATCH__PLAN_FILE. */
function guestPlan(ctx: GuestContext, phase: HookPhase): unknown {
  const g = ctx.target.guest;
  return {
    run_id: ctx.runId,
    phase,
    guest: { vmid: g.vmid, name: g.name, node: g.node, type: g.type, tags: g.tags, pool: g.pool ?? null },
    driver: ctx.driver?.name ?? null,
    transport: ctx.result.transport ?? ctx.policy.transport,
    os: ctx.os ?? null,
    packages: ctx.updates ?? [],
    exclude: ctx.exclude,
    excepted: ctx.result.excepted ?? [],
    reboot: ctx.policy.reboot,
    on_failure: ctx.policy.onFailure,
    snapshot_keep: ctx.snapshotKeep ?? ctx.svc.config.snapshot_keep,
    dry_run: ctx.dryRun,
    result: phase.startsWith('post-') ? ctx.result : null,
  };
}

/** Runs a phase for the guest and keeps its record in the result. */
export async function guestPhase(ctx: GuestContext, phase: HookPhase, extra: HookFields = {}): Promise<HookOutcome> {
  if (phase.startsWith('post-')) {
    // a post hook cannot change the result, not even by failing to start
    try {
      return await runPhase(ctx, phase, extra);
    } catch (err) {
      ctx.log(`warning: ${phase} hooks did not run - ${errorMessage(err)}`, { essential: true });
      return { ran: [], warnings: [errorMessage(err)], overrides: { exclude: [], notes: [] } };
    }
  }
  return runPhase(ctx, phase, extra);
}

async function runPhase(ctx: GuestContext, phase: HookPhase, extra: HookFields): Promise<HookOutcome> {
  const o = await ctx.hooks!.run(phase, guestFields(ctx, extra), guestPlan(ctx, phase), (line) => ctx.log(line), {
    snapshot_keep: ctx.snapshotKeep ?? ctx.svc.config.snapshot_keep,
  });
  const rec = phaseRecord(phase, o);
  if (rec) ctx.result.hooks = [...(ctx.result.hooks ?? []), rec];
  for (const note of o.overrides.notes) ctx.log(`note from ${phase} hook: ${note}`, { essential: true });
  return o;
}

/** The post-phase fields: how the guest did so far. */
export function resultFields(ctx: GuestContext): HookFields {
  const r = ctx.result;
  const warnings = (r.hooks ?? []).reduce((a, h) => a + h.warnings.length, 0) + (r.conffiles_pending?.length ?? 0);
  return {
    outcome: r.outcome,
    reason: r.reason ?? '',
    success: r.outcome === 'updated' || r.outcome === 'up-to-date',
    warnings,
    rebooted: r.reboot?.status === 'completed',
    rolled_back: r.rollback?.ok === true,
    changed: (r.changed ?? []).map((c) => c.package),
  };
}

/**
 * pre-guest: after the updates are known, before the second gate, the snapshot and the patch. A
 * veto or a SKIP skips the guest with the hook's reason; EXCLUDE keeps packages back (like
 * --exclude); REBOOT and SNAPSHOT_KEEP apply to this guest. A dry run ends here.
 */
export const preGuest: Stage = {
  name: 'pre-guest',
  async run(ctx): Promise<StageResult> {
    if (ctx.hooks) {
      ctx.preGuestRan = true;
      const o = await guestPhase(ctx, 'pre-guest');
      if (o.veto)
        return { status: 'halt', outcome: 'skipped', reason: `pre-guest hook ${o.veto.hook}: ${o.veto.reason}` };
      if (o.overrides.skip)
        return { status: 'halt', outcome: 'skipped', reason: `pre-guest hook: ${o.overrides.skip}` };
      const halted = applyOverrides(ctx, o, 'pre-guest hook');
      if (halted) return halted;
    }
    if (ctx.dryRun) return { status: 'halt', outcome: 'would-update', reason: 'dry run' };
    return done;
  },
};

/** A pre hook's EXCLUDE, REBOOT and SNAPSHOT_KEEP for this guest; halts when nothing is left to update. */
export function applyOverrides(ctx: GuestContext, o: HookOutcome, from: string): StageResult | undefined {
  const ov = o.overrides;
  const added = ov.exclude.filter((p) => !ctx.exclude.includes(p));
  if (added.length > 0) {
    ctx.exclude = [...ctx.exclude, ...added];
    const kept = (ctx.updates ?? []).filter((u) => added.includes(u.package)).map((u) => u.package);
    ctx.updates = (ctx.updates ?? []).filter((u) => !added.includes(u.package));
    ctx.result.packages = ctx.updates;
    if (ctx.pins) for (const p of kept) delete ctx.pins[p];
    if (kept.length > 0) {
      ctx.result.exclusions = [...new Set([...(ctx.result.exclusions ?? []), ...kept])];
      ctx.log(`kept back by ${from}: ${kept.join(', ')}`, { essential: true });
    }
  }
  if (ov.reboot && ov.reboot !== ctx.policy.reboot) {
    ctx.log(`reboot ${ov.reboot} (was ${ctx.policy.reboot}) by ${from}`, { essential: true });
    ctx.policy = { ...ctx.policy, reboot: ov.reboot };
  }
  if (ov.snapshot_keep !== undefined) ctx.snapshotKeep = Math.max(ov.snapshot_keep, ctx.snapshotKeep ?? 0);
  if ((ctx.updates ?? []).length === 0)
    return { status: 'halt', outcome: 'up-to-date', reason: `nothing to update (${from} kept the rest back)` };
  return undefined;
}

/** post-patch: after the upgrade (before any reboot); a failure is a warning. */
export const postPatch: Stage = {
  name: 'post-patch',
  async run(ctx) {
    if (ctx.hooks) await guestPhase(ctx, 'post-patch', { ...resultFields(ctx), success: true });
    return done;
  },
};

/** post-reboot: after a hypervisor reboot came back; not run when nothing rebooted. */
export const postReboot: Stage = {
  name: 'post-reboot',
  async run(ctx) {
    const status = ctx.result.reboot?.status;
    if (!ctx.hooks || status === undefined || status === 'pending') return done;
    await guestPhase(ctx, 'post-reboot', { ...resultFields(ctx), reboot_status: status });
    return done;
  },
};
