import type { ClusterView } from '../cluster/types.js';
import type { AgentEnsure } from '../engine/agent-ops.js';
import type { FleetRow } from '../engine/fleet.js';
import type { GuestPlan, GuestResult, RunReport } from '../engine/types.js';
import type { RunRow } from '../store/runs.js';
import type { RebootRecord } from '../store/state.js';
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

/** `pvepatch cluster`: one line for the cluster, one row per node. */
export function clusterText(v: ClusterView): string {
  if (v.mode === 'standalone')
    return `standalone: ${v.cluster_dir} is not there, so this daemon (node ${v.node}) shares nothing with other nodes\n`;
  const q = v.quorate === null || v.quorate === undefined ? 'unknown' : v.quorate ? 'yes' : 'NO - nothing new starts';
  const head = `node ${v.node} · leader: ${v.leader ?? 'none'} · quorum: ${q} · shared state: ${v.cluster_dir}/pvepatch\n\n`;
  return (
    head +
    table(
      ['NODE', 'PVEPATCHD', 'LEADER', 'VERSION', 'LAST STATUS', 'NOTE'],
      (v.nodes ?? []).map((n) => [
        n.node,
        n.alive ? 'running' : 'not running',
        n.leader ? 'yes' : '',
        n.version ?? '-',
        n.heartbeat_at ?? '-',
        n.reason ?? '',
      ]),
    )
  );
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
    ['VMID', 'NAME', 'TYPE', 'VIA', 'DRIVER', 'UPDATES', 'SECURITY', 'EXCLUDED', 'REBOOT', 'ON FAILURE', 'NOTE'],
    plans.map((p) => [
      p.vmid,
      p.name,
      p.type,
      p.transport ?? '-',
      p.driver ?? '-',
      p.updates_available,
      p.security_updates,
      [...p.exclusions, ...(p.excepted ?? []).map((e) => e.package)].join(',') || '-',
      p.reboot,
      p.on_failure,
      p.skip_reason ?? '',
    ]),
  );
  const details = plans
    .filter((p) => p.packages.length > 0 || (p.excepted ?? []).length > 0)
    .map(
      (p) =>
        `\n${p.type === 'lxc' ? 'CT' : 'VM'} ${p.vmid} (${p.name}):\n${table(
          ['PACKAGE', 'CURRENT', 'NEW', 'REPOSITORY', 'SECURITY'],
          [
            ...p.packages.map((u) => [
              u.package,
              u.current_version ?? '(new)',
              u.new_version,
              u.repository,
              u.security ? 'yes' : 'no',
            ]),
            ...(p.excepted ?? []).map((e) => [
              e.package,
              e.current_version ?? '(new)',
              e.new_version,
              `excluded by ${e.exception}: ${e.reason}${e.expires_at ? ` (until ${e.expires_at})` : ''}`,
              '-',
            ]),
          ],
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
    [
      'VMID',
      'NAME',
      'VIA',
      'OUTCOME',
      'PROTECTION',
      'CHANGED',
      'REBOOT',
      'CHECKS',
      'TRIPS/CMDS',
      'IN/OUT GUEST',
      'REASON',
    ],
    report.guests.map((r) => [
      r.vmid,
      r.name,
      r.transport ?? '-',
      r.outcome,
      protectionText(r),
      r.outcome === 'would-update' ? `${(r.packages ?? []).length} pending` : changedText(r),
      rebootText(r),
      checksText(r),
      tripsText(r),
      timeText(r),
      reasonText(r),
    ]),
  )}\n${report.state.toUpperCase()}: run ${report.id}`;
}

function protectionText(r: GuestResult): string {
  if (r.snapshot) return r.snapshot.name;
  if (r.backup) return `vzdump to ${r.backup.storage}`;
  if (r.pbs_backup) return `PBS backup ${r.pbs_backup.time.slice(0, 16).replace('T', ' ')} UTC`;
  return r.protection ?? '-';
}

function rebootText(r: GuestResult): string {
  if (r.reboot) return r.reboot.seconds !== undefined ? `${r.reboot.status} (${r.reboot.seconds}s)` : r.reboot.status;
  return r.reboot_required ? `required (${(r.reboot_packages ?? []).join(',')})` : '-';
}

function checksText(r: GuestResult): string {
  const v = r.verification;
  if (!v) return '-';
  return v.ok ? `ok (${v.checks.length})` : `${v.problems.length} failed`;
}

function reasonText(r: GuestResult): string {
  const rb = r.rollback;
  if (!rb) return r.reason ?? '';
  const back = rb.ok
    ? `rolled back to ${rb.snapshot}`
    : `rollback failed: ${rb.error ?? rb.verification?.problems.join('; ') ?? ''}`;
  return `${r.reason ?? ''}; ${back}`;
}

/** A page of runs; the footer says how to see more when there are more. */
export function runsText(runs: RunRow[], page: { start: number; total: number }): string {
  const body = table(
    ['RUN ID', 'STATE', 'STARTED', 'ENDED', 'GUESTS'],
    runs.map((r) => [
      r.id,
      r.dry_run ? `${r.state} (dry run)` : r.state,
      r.started_at,
      r.ended_at ?? '-',
      [
        Object.entries(r.counts)
          .map(([o, n]) => `${n} ${o}`)
          .join(', ') || '-',
        ...Object.entries(r.reboots ?? {}).map(([s, n]) => `${n} reboot ${s}`),
      ].join('; '),
    ]),
  );
  const end = page.start + runs.length;
  return end < page.total
    ? `${body}\nruns ${page.start + 1}-${end} of ${page.total}; --start ${end} for older ones`
    : body;
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

export function agentText(rows: AgentEnsure[]): string {
  const head = table(
    ['VMID', 'NAME', 'NODE', 'CONFIGURED', 'RESPONDING', 'EXEC', 'DETAIL'],
    rows.map((r) => [
      r.vmid,
      r.name,
      r.node,
      yesNo(r.configured),
      yesNo(r.responding),
      yesNo(r.exec_allowed),
      r.detail,
    ]),
  );
  const done = rows.flatMap((r) => (r.actions ?? []).map((a) => `VM ${r.vmid}: ${a}`));
  return [head, ...done].join('\n');
}

const ago = (s: number | null) =>
  s === null
    ? 'never'
    : s < 120
      ? `${s}s ago`
      : s < 7200
        ? `${Math.round(s / 60)}m ago`
        : `${Math.round(s / 3600)}h ago`;

export function fleetText(rows: FleetRow[]): string {
  return table(
    ['VMID', 'NAME', 'NODE', 'TYPE', 'VIA', 'DRIVER', 'UPDATES', 'SECURITY', 'PLANNED', 'LAST RUN', 'REBOOT', 'NOTE'],
    rows.map((r) => [
      r.vmid,
      r.name,
      r.node,
      r.type,
      r.transport ?? '-',
      r.driver ?? '-',
      r.updates_available ?? '?',
      r.security_updates ?? '?',
      ago(r.plan_age_s),
      r.last_run ? r.last_run.outcome : '-',
      r.reboot ?? '-',
      r.skip_reason ?? '',
    ]),
  );
}

export function rebootsText(rows: RebootRecord[]): string {
  return table(
    ['VMID', 'STATUS', 'AT', 'RUN', 'REASON'],
    rows.map((r) => [r.vmid, r.status, r.at, r.run_id, `${r.reason}${r.error ? ` - ${r.error}` : ''}`]),
  );
}
