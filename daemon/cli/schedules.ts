import type { Command } from 'commander';
import { PvepatchError } from '../core/errors.js';
import type { ScheduleView } from '../schedule/service.js';
import { table } from './format.js';

export interface ScheduleCommandDeps {
  api: () => {
    get<T>(path: string): Promise<T>;
    post<T>(path: string, body: unknown): Promise<T>;
    put<T>(path: string, body: unknown): Promise<T>;
    delete<T>(path: string): Promise<T>;
  };
  print: (data: unknown, text: () => string) => void;
}

export function schedulesText(rows: ScheduleView[]): string {
  return table(
    ['ID', 'CRON', 'MODE', 'WINDOW', 'SELECTOR', 'ENABLED', 'NEXT', 'LAST FIRED', 'MISSED'],
    rows.map((s) => [
      s.id,
      `${s.cron}${s.tz ? ` ${s.tz}` : ''}`,
      s.require_approval ? `${s.mode} (approved plans)` : s.mode,
      `${s.window_minutes}m`,
      s.selector.join(' '),
      s.enabled ? 'yes' : 'no',
      s.next[0] ?? '-',
      s.state.last_fired_at ?? '-',
      String(s.state.missed.reduce((a, m) => a + m.count, 0)),
    ]),
  );
}

export function scheduleText(s: ScheduleView): string {
  const lines = [
    `schedule ${s.id}: ${s.mode} ${s.selector.join(' ')} at '${s.cron}'${s.tz ? ` (${s.tz})` : ''}, window ${s.window_minutes} min, ${s.enabled ? 'enabled' : 'disabled'}`,
    `next: ${s.next.join(', ') || '-'}`,
  ];
  if (s.state.last_fired_at)
    lines.push(`last fired for ${s.state.last_fired_at} (window until ${s.state.last_window_end})`);
  for (const m of s.state.missed)
    lines.push(`missed ${m.count > 1 ? `${m.count}, the last ` : ''}at ${m.at}: ${m.reason}`);
  if (s.last_report)
    lines.push(
      `last report ${s.last_report.at}: ${s.last_report.with_updates} of ${s.last_report.guests} guest(s) with ${s.last_report.updates} update(s), ${s.last_report.security_updates} for security`,
    );
  if (s.require_approval)
    lines.push(
      s.awaiting_approval
        ? `needs an approved plan: plan ${s.awaiting_approval} waits for approval ('pvepatch plan approve ${s.awaiting_approval}')`
        : 'needs an approved plan: each window without one saves one for approval',
    );
  if (s.rollouts.length > 0) lines.push(`rollouts: ${s.rollouts.join(' ')}`);
  return lines.join('\n');
}

function whole(v: string): number {
  if (!/^\d{1,6}$/.test(v)) throw new PvepatchError('input-invalid', `invalid number '${v}' - expected a whole number`);
  return Number(v);
}

type Opts = Record<string, string | number | boolean | undefined>;

/** The rollout policy options of `schedule add|set` (mode apply). */
function rolloutOf(o: Opts): Record<string, unknown> | undefined {
  const p: Record<string, unknown> = {};
  if (o.canary !== undefined) p.canary = o.canary;
  if (o.batch !== undefined) p.batch = o.batch;
  if (o.maxFailures !== undefined) {
    const mf = String(o.maxFailures);
    p.max_failures = /^\d{1,6}$/.test(mf) ? Number(mf) : mf;
  }
  if (typeof o.exclude === 'string') p.exclude = o.exclude.split(',').filter(Boolean);
  if (o.reboot !== undefined) p.reboot = o.reboot;
  if (o.onFailure !== undefined) p.on_failure = o.onFailure;
  if (o.securityOnly) p.security_only = true;
  return Object.keys(p).length > 0 ? p : undefined;
}

function withOptions(c: Command): Command {
  return c
    .option('--tz <zone>', "IANA time zone (default: the node's)")
    .option('--canary <n>', 'apply: guests patched first, on their own', whole)
    .option('--batch <n>', 'apply: guests per batch', whole)
    .option('--max-failures <n>', "apply: failures tolerated before the rollout halts (count or '10%')")
    .option('--exclude <pkgs>', 'apply: packages to keep back (comma-separated)')
    .option('--reboot <when>', 'apply: never, if-required or always')
    .option('--on-failure <what>', 'apply: keep or rollback')
    .option('--security-only', 'apply: only security updates')
    .option('--require-approval', 'apply: install only a plan someone approved (each window without one saves one)');
}

/** `pvepatch schedule list|show|add|set|run|rm`. */
export function addScheduleCommand(program: Command, deps: ScheduleCommandDeps): Command {
  const cmd = program
    .command('schedule')
    .description('unattended runs: a cron time, a selector, report or apply, inside a maintenance window');
  cmd.command('list').action(async () => {
    const rows = await deps.api().get<ScheduleView[]>('/schedules');
    deps.print(rows, () => schedulesText(rows));
  });
  cmd
    .command('show')
    .argument('<id>')
    .action(async (id: string) => {
      const s = await deps.api().get<ScheduleView>(`/schedules/${encodeURIComponent(id)}`);
      deps.print(s, () => scheduleText(s));
    });
  withOptions(
    cmd
      .command('add')
      .argument('<id>')
      .argument('<selector...>')
      .requiredOption('--cron <expr>', "minute hour day-of-month month day-of-week, e.g. '0 2 * * 6' (Saturdays 02:00)")
      .requiredOption('--window <minutes>', 'how long after each start runs may start', whole)
      .option('--mode <mode>', 'report (plan and record) or apply (a rollout)', 'report')
      .option('--disabled', 'store it without arming it'),
  ).action(async (id: string, selector: string[], o: Opts) => {
    const rollout = rolloutOf(o);
    const s = await deps.api().post<ScheduleView>('/schedules', {
      id,
      cron: o.cron,
      ...(o.tz ? { tz: o.tz } : {}),
      selector,
      mode: o.mode,
      window_minutes: o.window,
      enabled: !o.disabled,
      ...(rollout || o.mode === 'apply' ? { rollout: rollout ?? {} } : {}),
      ...(o.requireApproval ? { require_approval: true } : {}),
    });
    deps.print(s, () => scheduleText(s));
  });
  withOptions(
    cmd
      .command('set')
      .argument('<id>')
      .option('--cron <expr>')
      .option('--window <minutes>', '', whole)
      .option('--mode <mode>')
      .option('--selector <terms>', 'a new selector (space- or comma-separated)')
      .option('--enable')
      .option('--disable')
      .option('--no-approval', 'apply: stop requiring an approved plan'),
  ).action(async (id: string, o: Opts) => {
    const rollout = rolloutOf(o);
    const s = await deps.api().put<ScheduleView>(`/schedules/${encodeURIComponent(id)}`, {
      ...(o.cron ? { cron: o.cron } : {}),
      ...(o.tz ? { tz: o.tz } : {}),
      ...(o.window !== undefined ? { window_minutes: o.window } : {}),
      ...(o.mode ? { mode: o.mode } : {}),
      ...(typeof o.selector === 'string' ? { selector: o.selector.split(/[\s,]+/).filter(Boolean) } : {}),
      ...(o.enable ? { enabled: true } : o.disable ? { enabled: false } : {}),
      ...(o.requireApproval ? { require_approval: true } : o.approval === false ? { require_approval: false } : {}),
      ...(rollout ? { rollout } : {}),
    });
    deps.print(s, () => scheduleText(s));
  });
  cmd
    .command('run')
    .description('run it now, in a window of its length from now (its own times stay as they are)')
    .argument('<id>')
    .action(async (id: string) => {
      const s = await deps.api().post<ScheduleView & { ran: string }>(`/schedules/${encodeURIComponent(id)}/run`, {});
      deps.print(s, () => s.ran);
    });
  cmd
    .command('rm')
    .argument('<id>')
    .action(async (id: string) => {
      const s = await deps.api().delete<ScheduleView>(`/schedules/${encodeURIComponent(id)}`);
      deps.print(s, () => `deleted schedule ${s.id}`);
    });
  return cmd;
}
