import type { GuestPlan, GuestResult, RunReport } from '../engine/types.js';
import type { RunSummary } from '../store/state.js';
import { table } from './format.js';

interface GuestRow {
  vmid: number;
  type: string;
  node: string;
  status: string;
  name: string;
  tags: string[];
  transport: string | null;
  skip_reason: string | null;
}

export function guestsText(rows: GuestRow[]): string {
  return table(
    ['VMID', 'TYPE', 'NODE', 'STATUS', 'NAME', 'TAGS', 'TRANSPORT', 'NOTE'],
    rows.map((g) => [
      g.vmid,
      g.type,
      g.node,
      g.status,
      g.name,
      g.tags.join(';'),
      g.transport ?? '-',
      g.skip_reason ?? '',
    ]),
  );
}

export function planText(plans: GuestPlan[]): string {
  const head = table(
    ['VMID', 'NAME', 'DRIVER', 'UPDATES', 'SECURITY', 'EXCLUDED', 'NOTE'],
    plans.map((p) => [
      p.vmid,
      p.name,
      p.driver ?? '-',
      p.updates_available,
      p.security_updates,
      p.exclusions.join(',') || '-',
      p.skip_reason ?? '',
    ]),
  );
  const details = plans
    .filter((p) => p.packages.length > 0)
    .map(
      (p) =>
        `\n${p.type === 'lxc' ? 'CT' : 'VM'} ${p.vmid} (${p.name}):\n${table(
          ['PACKAGE', 'CURRENT', 'NEW', 'REPOSITORY', 'SECURITY'],
          p.packages.map((u) => [
            u.package,
            u.current_version ?? '(new)',
            u.new_version,
            u.repository,
            u.security ? 'yes' : 'no',
          ]),
        )}`,
    );
  return [head, ...details].join('\n');
}

/** The count and the first names; `pvepatch log` and the JSON report have every version. */
function changedText(r: GuestResult): string {
  const names = (r.changed ?? []).map((c) => c.package);
  if (names.length === 0) return '-';
  return `${names.length}: ${names.slice(0, 3).join(',')}${names.length > 3 ? ',…' : ''}`;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** "2/21": guest round trips (shell sessions or standalone execs) / commands run through them. */
function tripsText(r: GuestResult): string {
  return r.exec ? `${r.exec.round_trips}/${r.exec.commands}` : '-';
}

/** "4.1s/0.6s": time in guest commands / time outside them (snapshot tasks, API, pvepatch itself). */
function timeText(r: GuestResult): string {
  const t = r.timing;
  if (!t) return '-';
  return `${secs(t.guest_ms)}/${secs(t.total_ms - t.queued_ms - t.guest_ms)}`;
}

export function reportText(report: RunReport): string {
  return `${table(
    ['VMID', 'NAME', 'OUTCOME', 'SNAPSHOT', 'CHANGED', 'REBOOT', 'TRIPS/CMDS', 'IN/OUT GUEST', 'REASON'],
    report.guests.map((r) => [
      r.vmid,
      r.name,
      r.outcome,
      r.snapshot?.name ?? '-',
      r.outcome === 'would-update' ? `${(r.packages ?? []).length} pending` : changedText(r),
      r.reboot_required ? `yes (${(r.reboot_packages ?? []).join(',')})` : '-',
      tripsText(r),
      timeText(r),
      r.reason ?? '',
    ]),
  )}\n${report.state.toUpperCase()}: run ${report.id}`;
}

export function runsText(runs: RunSummary[]): string {
  return table(
    ['RUN ID', 'STATE', 'STARTED', 'GUESTS'],
    runs.map((r) => [
      r.id,
      r.state,
      r.started_at,
      Object.entries(r.guests)
        .map(([v, o]) => `${v}:${o}`)
        .join(' '),
    ]),
  );
}
