/**
 * The run's own hook phases: pre-run before any guest is entered (a veto or a SKIP aborts the run
 * with every guest untouched; its EXCLUDE, REBOOT and SNAPSHOT_KEEP apply to every guest) and
 * post-run once every guest is done (whenever pre-run ran; it cannot change the result).
 */
import { errorMessage } from '../core/errors.js';
import type { HookOverrides } from '../hooks/index.js';
import type { RunSummary } from '../store/state.js';
import type { GuestContext } from './context.js';
import { type HookFields, type HookSession, phaseRecord } from './hook-session.js';
import type { GuestResult, HookPhaseRecord, Target } from './types.js';

export interface RunHookState {
  session: HookSession;
  /** The run's pre-run and post-run records, for the report. */
  records: HookPhaseRecord[];
  overrides?: HookOverrides;
}

export interface RunInfo {
  summary: RunSummary;
  meta: { trigger: string; user: string };
  node: string;
  log: (line: string) => void;
}

function runFields(r: RunInfo, targets: readonly Target[], extra: HookFields = {}): HookFields {
  const s = r.summary;
  return {
    run_id: s.id,
    node: r.node,
    selector: s.selector,
    guests: targets.map((t) => String(t.guest.vmid)),
    guest_count: targets.length,
    exclude: s.exclude,
    reboot: s.reboot ?? '',
    on_failure: s.on_failure ?? '',
    dry_run: s.dry_run,
    security_only: s.security_only ?? false,
    user: r.meta.user,
    trigger: r.meta.trigger,
    ...extra,
  };
}

function runPlan(r: RunInfo, targets: readonly Target[], results?: readonly GuestResult[]): unknown {
  return {
    run: r.summary,
    guests: targets.map((t) => ({
      vmid: t.guest.vmid,
      name: t.guest.name,
      node: t.guest.node,
      type: t.guest.type,
      tags: t.guest.tags,
      pool: t.guest.pool ?? null,
      skip_reason: t.skip_reason ?? null,
    })),
    results: results ?? null,
  };
}

/** pre-run: returns why the run is aborted, if it is. */
export async function preRun(h: RunHookState, r: RunInfo, targets: readonly Target[]): Promise<string | undefined> {
  const o = await h.session.run('pre-run', runFields(r, targets), runPlan(r, targets), r.log);
  const rec = phaseRecord('pre-run', o);
  if (rec) h.records.push(rec);
  for (const note of o.overrides.notes) r.log(`note from pre-run hook: ${note}`);
  if (o.veto) return `pre-run hook ${o.veto.hook}: ${o.veto.reason}`;
  if (o.overrides.skip) return `pre-run hook: ${o.overrides.skip}`;
  h.overrides = o.overrides;
  return undefined;
}

/** pre-run's overrides for one guest, before its first stage. */
export function applyRunOverrides(ctx: GuestContext, ov: HookOverrides | undefined): void {
  if (!ov) return;
  const added = ov.exclude.filter((p) => !ctx.exclude.includes(p));
  if (added.length > 0) ctx.exclude = [...ctx.exclude, ...added];
  if (ov.reboot) ctx.policy = { ...ctx.policy, reboot: ov.reboot };
  if (ov.snapshot_keep !== undefined) ctx.snapshotKeep = ov.snapshot_keep;
}

/** post-run: after every guest; a failure is a warning, never a change of the result. */
export async function postRun(
  h: RunHookState,
  r: RunInfo,
  targets: readonly Target[],
  results: readonly GuestResult[],
  state: string,
): Promise<void> {
  const n = (o: string) => results.filter((x) => x.outcome === o).length;
  const fields = runFields(r, targets, {
    state,
    success: state === 'ok',
    updated: n('updated'),
    failed: n('failed') + n('rolled-back'),
    refused: n('refused'),
    skipped: n('skipped'),
    warnings: results.reduce((a, x) => a + (x.hooks ?? []).reduce((b, p) => b + p.warnings.length, 0), 0),
    rebooted: results.filter((x) => x.reboot?.status === 'completed').length,
    rolled_back: n('rolled-back'),
  });
  try {
    const o = await h.session.run('post-run', fields, runPlan(r, targets, results), r.log);
    const rec = phaseRecord('post-run', o);
    if (rec) h.records.push(rec);
  } catch (err) {
    r.log(`warning: post-run hooks did not run - ${errorMessage(err)}`);
  }
}
