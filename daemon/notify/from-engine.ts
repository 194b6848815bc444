/**
 * Notification data from what the engine, the rollouts and the schedules produce: flat, formatted,
 * capped (see data.ts). Which event a run raises follows its final state.
 */
import type { GuestPlan, GuestResult, RunReport } from '../engine/types.js';
import type { Rollout } from '../rollouts/types.js';
import type { RunSummary } from '../store/state.js';
import { capList, MAX_GUESTS, MAX_LIST, MAX_PACKAGES_PER_GUEST } from './data.js';
import { notification } from './severity.js';
import type { Notification, RunGuest } from './types.js';

/** `2026-12-07 03:00:00` (UTC, as the run ids and logs have it). */
export function shortTime(iso: string | undefined): string {
  if (!iso) return '';
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  if (h > 0) return `${h}h ${m}m ${sec}s`;
  return m > 0 ? `${m}m ${sec}s` : `${sec}s`;
}

function rebootText(r: GuestResult): string {
  const rb = r.reboot;
  if (!rb) return r.reboot_required ? 'required, not rebooted' : 'not needed';
  if (rb.status === 'completed') return `rebooted, back after ${rb.seconds ?? 0} s`;
  if (rb.status === 'pending') return `pending - ${rb.reason}`;
  return `${rb.status}${rb.error ? `: ${rb.error}` : ''}`;
}

function runGuest(r: GuestResult, logPath: string): RunGuest {
  const changed = r.changed ?? [];
  const shown = capList(
    changed.map((c) => ({ name: c.package, from: c.before ?? '(new)', to: c.after ?? '(removed)' })),
    MAX_PACKAGES_PER_GUEST,
  );
  return {
    vmid: r.vmid,
    name: r.name,
    type: r.transport === 'pct' ? 'lxc' : 'qemu',
    outcome: r.outcome,
    reason: r.reason ?? '',
    packages_count: changed.length,
    packages: shown.items,
    packages_more: shown.more,
    snapshot: r.snapshot?.name ?? '',
    reboot: rebootText(r),
    duration: duration(r.timing?.total_ms ?? 0),
    log_path: logPath,
  };
}

export interface RunNotifyInput {
  summary: RunSummary;
  report: RunReport;
  meta: { trigger: string; user: string };
  node: string;
  logPath: string;
}

/** run-ok, run-error or run-refused for a finished run (none for a dry run). */
export function runNotification(i: RunNotifyInput): Notification | undefined {
  const { summary: s, report } = i;
  if (s.dry_run) return undefined;
  const event = s.state === 'ok' ? 'run-ok' : s.state === 'error' ? 'run-error' : 'run-refused';
  const n = (o: string) => report.guests.filter((g) => g.outcome === o).length;
  const guests = capList(report.guests, MAX_GUESTS);
  const ms = Date.parse(report.ended_at) - Date.parse(report.started_at);
  return notification(
    event,
    {
      hostname: i.node,
      run_id: s.id,
      node: i.node,
      selector: s.selector,
      state: s.state,
      started_at: shortTime(report.started_at),
      ended_at: shortTime(report.ended_at),
      duration: duration(Number.isFinite(ms) ? ms : 0),
      user: i.meta.user,
      trigger: i.meta.trigger,
      error: s.error ?? '',
      counts: {
        total: report.guests.length,
        updated: n('updated'),
        unchanged: n('up-to-date'),
        failed: n('failed') + n('rolled-back'),
        refused: n('refused') + n('interrupted'),
        skipped: n('skipped'),
      },
      guests: guests.items.map((g) => runGuest(g, i.logPath)),
      guests_more: guests.more,
      log_path: i.logPath,
      log_link: '',
    },
    { 'job-id': s.id },
  );
}

/** reboot-failed for each guest whose hypervisor reboot failed or timed out in the run. */
export function rebootFailedNotifications(i: RunNotifyInput): Notification[] {
  return i.report.guests
    .filter((g) => g.reboot && (g.reboot.status === 'failed' || g.reboot.status === 'timeout'))
    .map((g) =>
      notification(
        'reboot-failed',
        {
          hostname: i.node,
          vmid: g.vmid,
          name: g.name,
          type: g.transport === 'pct' ? 'lxc' : 'qemu',
          run_id: i.summary.id,
          status: g.reboot!.status,
          reason: g.reboot!.error ?? g.reason ?? g.reboot!.reason,
          at: shortTime(i.report.ended_at),
          snapshot: g.snapshot?.name ?? '',
          log_path: i.logPath,
          log_link: '',
        },
        { 'job-id': i.summary.id },
      ),
    );
}

/** rollout-halted: the failures that stopped it and what it left untouched. */
export function rolloutHaltedNotification(r: Rollout, node: string): Notification {
  const failed = r.halt?.failures ?? [];
  const names = new Map(r.guests.map((g) => [g.vmid, g.name]));
  const shown = capList(failed, MAX_LIST);
  const total = r.guests.filter((g) => g.group >= 0).length;
  const untouched = r.guests.filter((g) => g.group >= 0 && g.outcome === undefined).length;
  return notification(
    'rollout-halted',
    {
      hostname: node,
      rollout_id: r.id,
      selector: r.options.selector.join(' '),
      reason: r.note ?? '',
      halted_at: shortTime(r.ended_at ?? r.updated_at),
      user: r.created_by,
      done: total - untouched,
      total,
      untouched,
      failures_count: failed.length,
      failures: shown.items.map((f) => ({
        vmid: f.vmid,
        name: names.get(f.vmid) ?? '',
        outcome: f.outcome,
        reason: f.reason,
      })),
      failures_more: shown.more,
      log_link: '',
    },
    { 'job-id': r.id },
  );
}

/** updates-available from a report schedule's plans (none when nothing is pending). */
export function updatesAvailableNotification(
  scheduleId: string,
  plans: readonly GuestPlan[],
  node: string,
  at: string,
): Notification | undefined {
  const pending = plans.filter((p) => p.updates_available > 0);
  if (pending.length === 0) return undefined;
  const list = capList(pending, MAX_LIST);
  const failures = capList(
    plans.filter((p) => p.skip_reason),
    MAX_LIST,
  );
  return notification(
    'updates-available',
    {
      hostname: node,
      schedule_id: scheduleId,
      checked_at: shortTime(at),
      guests: plans.length,
      with_updates: pending.length,
      updates: pending.reduce((a, p) => a + p.updates_available, 0),
      security_updates: pending.reduce((a, p) => a + p.security_updates, 0),
      guest_list: list.items.map((p) => ({
        vmid: p.vmid,
        name: p.name,
        updates: p.updates_available,
        security: p.security_updates,
      })),
      guest_list_more: list.more,
      failures_count: failures.items.length + failures.more,
      failures: failures.items.map((p) => ({ vmid: p.vmid, name: p.name, reason: p.skip_reason ?? '' })),
      log_link: '',
    },
    { 'job-id': scheduleId },
  );
}
