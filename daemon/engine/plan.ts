import { errorMessage } from '../core/errors.js';
import { explainPolicy } from '../policy/resolve.js';
import { guestConfig } from '../proxmox/inventory.js';
import type { GuestContext } from './context.js';
import { PLAN_STAGES, runGuest, runPools } from './guest-run.js';
import type { EngineServices, GuestPlan, Target } from './types.js';

/** A guest's plan before anything is known of its packages (also for guests that are skipped). */
export function emptyPlan(
  svc: EngineServices,
  target: Pick<Target, 'guest' | 'transport' | 'policy' | 'skip_reason'>,
  opts: { dryRun: boolean; securityOnly: boolean },
): GuestPlan {
  const g = target.guest;
  return {
    vmid: g.vmid,
    name: g.name,
    node: g.node,
    type: g.type,
    status: g.status,
    transport: target.transport,
    driver: null,
    os: null,
    updates_available: 0,
    security_updates: 0,
    packages: [],
    exclusions: [],
    excepted: [],
    dry_run: opts.dryRun,
    security_only: opts.securityOnly,
    protection: svc.config.protection,
    reboot: target.policy.reboot,
    on_failure: target.policy.onFailure,
    policy_sources: explainPolicy(target.policy),
    skip_reason: target.skip_reason,
  };
}

/**
 * The plan of one guest: enters it read-mostly (the package lists are refreshed) and lists what a
 * run would change. Nothing is snapshotted, held or installed.
 */
export async function planGuest(
  svc: EngineServices,
  target: Target,
  opts: { exclude: string[]; dryRun: boolean; securityOnly: boolean },
): Promise<GuestPlan> {
  const { exclude, securityOnly } = opts;
  const g = target.guest;
  const plan = emptyPlan(svc, target, opts);
  if (target.skip_reason) return plan;
  if (g.lock) {
    // not even entered: a guest under backup, migration or snapshot is left alone
    plan.skip_reason = `guest is locked (${g.lock})`;
    return plan;
  }
  const ctx: GuestContext = {
    svc,
    target,
    policy: target.policy,
    runId: 'plan',
    dryRun: true,
    securityOnly,
    exclude,
    log: () => {},
    output: () => {},
    deadline: Date.now() + svc.config.guest_timeout * 1000,
    stopping: () => false,
    result: { vmid: g.vmid, name: g.name, outcome: 'skipped' },
    timing: { started: Date.now(), tasksMs: 0, queuedMs: 0 },
  };
  try {
    const cfg = await guestConfig(svc.client, g);
    ctx.guestConfig = cfg;
    if (cfg.ostype) ctx.ostype = cfg.ostype;
    const stages = PLAN_STAGES.map((stage) => ({ stage, pool: 'plan' as const }));
    const r = await runGuest(ctx, runPools({ concurrency: 1, snapshot_concurrency: 1 }), () => {}, stages);
    if (r.outcome === 'skipped' || r.outcome === 'refused') plan.skip_reason = r.reason ?? r.outcome;
  } catch (err) {
    plan.skip_reason = errorMessage(err);
  }
  plan.transport = ctx.result.transport ?? plan.transport;
  if (ctx.exec) plan.exec = { round_trips: ctx.exec.roundTrips, commands: ctx.exec.execs, guest_ms: ctx.exec.guestMs };
  plan.driver = ctx.driver?.name ?? null;
  plan.os = ctx.os ?? null;
  plan.packages = ctx.updates ?? [];
  plan.exclusions = ctx.result.exclusions ?? [];
  plan.excepted = ctx.result.excepted ?? [];
  plan.updates_available = plan.packages.length;
  plan.security_updates = plan.packages.filter((p) => p.security).length;
  return plan;
}
