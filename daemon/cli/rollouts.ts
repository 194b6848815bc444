import type { Command } from 'commander';
import { PvepatchError } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import type { Rollout } from '../rollouts/types.js';
import { EXIT } from './exit-codes.js';
import { table } from './format.js';
import type { RunFollower } from './line-follower.js';

export interface RolloutCommandDeps {
  api: () => {
    get<T>(path: string): Promise<T>;
    post<T>(path: string, body: unknown): Promise<T>;
  };
  print: (data: unknown, text: () => string) => void;
  out: (text: string) => void;
  /** Follows a rollout's event stream into a follower; 'interrupted' on Ctrl-C. */
  follow: (id: string, quiet: boolean) => Promise<'ended' | 'interrupted'>;
  interrupted: (id: string) => void;
  setExit: (code: number) => void;
}

interface RolloutEvent {
  what?: string;
  rollout?: { id: string; state: string; note?: string; group: number; groups: number };
  failures?: { vmid: number; outcome: string; reason: string }[];
}

/** Rollout events become pvepatch's own lines; the groups' run events pass through (stages, output, outcomes). */
export function rolloutFollower(to: RunFollower): RunFollower {
  const say = (line: string) => to.event('log', { vmid: null, line });
  return {
    event(type, data) {
      const e = (data ?? {}) as RolloutEvent;
      if (type === 'rollout') say(`rollout: ${String(e.what ?? '')}`);
      else if (type === 'rollout-halted')
        say(
          `rollout halted: ${(e.failures ?? []).map((f) => `${f.vmid} ${f.outcome}${f.reason ? ` (${f.reason})` : ''}`).join('; ')}`,
        );
      else if (type === 'rollout-finished' && e.rollout)
        say(`rollout ${e.rollout.id}: ${e.rollout.state}${e.rollout.note ? ` - ${e.rollout.note}` : ''}`);
      else to.event(type, data);
    },
    finish: () => to.finish(),
  };
}

const tally = (r: Rollout) => {
  const by = new Map<string, number>();
  for (const g of r.guests) by.set(g.outcome ?? 'pending', (by.get(g.outcome ?? 'pending') ?? 0) + 1);
  return [...by].map(([o, n]) => `${n} ${o}`).join(', ');
};

export function rolloutsText(rows: Rollout[]): string {
  return table(
    ['ROLLOUT', 'STATE', 'GROUP', 'GUESTS', 'BY', 'CREATED', 'NOTE'],
    rows.map((r) => [
      r.id,
      r.state,
      `${Math.min(r.group + 1, r.groups)}/${r.groups}`,
      tally(r),
      r.created_by,
      r.created_at,
      r.note ?? '',
    ]),
  );
}

export function rolloutText(r: Rollout): string {
  const head = `rollout ${r.id}: ${r.state}, group ${Math.min(r.group + 1, r.groups)} of ${r.groups}${r.note ? ` - ${r.note}` : ''}`;
  const rows = table(
    ['VMID', 'NAME', 'GROUP', 'OUTCOME', 'RUN', 'REASON'],
    r.guests.map((g) => [
      g.vmid,
      g.name,
      g.group < 0
        ? '-'
        : g.group === 0 && r.options.canary > 0
          ? 'canary'
          : String(g.group + (r.options.canary > 0 ? 0 : 1)),
      g.outcome ?? (g.group < r.group ? '-' : 'pending'),
      g.run_id ?? '-',
      g.reason ?? '',
    ]),
  );
  return `${escapeControls(head)}\n${rows}`;
}

const exitFor = (r: Rollout) =>
  r.state === 'completed'
    ? r.guests.some((g) => g.outcome === 'failed' || g.outcome === 'rolled-back')
      ? EXIT.failed
      : EXIT.ok
    : r.state === 'halted'
      ? EXIT.failed
      : EXIT.refused;

function count(v: string): number {
  if (!/^\d{1,6}$/.test(v))
    throw new PvepatchError('input-invalid', `invalid count '${escapeControls(v)}' - expected a whole number`);
  return Number(v);
}

/** `pvepatch rollout start|list|show|follow|pause|resume|cancel`. */
export function addRolloutCommand(program: Command, deps: RolloutCommandDeps): Command {
  const cmd = program
    .command('rollout')
    .description('patch many guests group by group: a canary first, then batches; halt when too many fail');
  const followAndReport = async (id: string, quiet: boolean) => {
    if ((await deps.follow(id, quiet)) === 'interrupted') return deps.interrupted(id);
    const r = await deps.api().get<Rollout>(`/rollouts/${encodeURIComponent(id)}`);
    deps.print(r, () => rolloutText(r));
    deps.setExit(exitFor(r));
  };
  cmd
    .command('start')
    .argument('<selector...>')
    .option('--canary <n>', 'guests patched first, on their own', count, 0)
    .option('--batch <n>', 'guests per batch after the canary group', count, 1)
    .option(
      '--max-failures <n>',
      "failures tolerated before the rollout halts: a count (0: halt on the first) or a percentage ('10%')",
      '0',
    )
    .option('--tag-order <tags>', 'guests with these tags first, in this order (comma-separated)')
    .option('--exclude <pkgs>', 'packages to keep back (comma-separated)')
    .option('--security-only', 'only updates marked as security fixes')
    .option('--reboot <when>', 'never, if-required or always (default: the policy)')
    .option('--on-failure <what>', 'keep or rollback (default: the policy)')
    .option('--until <time>', 'start no group at or after this time (ISO), as at the end of a maintenance window')
    .option('--plan <id>', 'an approved saved plan: only its guests the selector names, exactly its versions')
    .option('--detach', 'print the rollout id and return; it goes on in the daemon')
    .option('-q, --quiet', 'print only the result')
    .action(async (selector: string[], o: Record<string, string | number | boolean | undefined>) => {
      const mf = String(o.maxFailures);
      const list = (v: unknown) => (typeof v === 'string' ? v.split(',').filter(Boolean) : []);
      const r = await deps.api().post<Rollout>('/rollouts', {
        selector,
        canary: o.canary,
        batch: o.batch,
        max_failures: /^\d{1,6}$/.test(mf) ? Number(mf) : mf,
        tag_order: list(o.tagOrder),
        exclude: list(o.exclude),
        security_only: Boolean(o.securityOnly),
        ...(o.reboot ? { reboot: o.reboot } : {}),
        ...(o.onFailure ? { on_failure: o.onFailure } : {}),
        ...(o.until ? { not_after: o.until } : {}),
        ...(o.plan ? { plan: o.plan } : {}),
      });
      if (o.detach) {
        deps.print({ id: r.id }, () => r.id);
        return;
      }
      await followAndReport(r.id, Boolean(o.quiet));
    });
  cmd
    .command('list')
    .description('rollouts, newest first')
    .action(async () => {
      const rows = await deps.api().get<Rollout[]>('/rollouts');
      deps.print(rows, () => rolloutsText(rows));
    });
  cmd
    .command('show')
    .argument('<id>')
    .description('a rollout with each guest, its group, outcome and run')
    .action(async (id: string) => {
      const r = await deps.api().get<Rollout>(`/rollouts/${encodeURIComponent(id)}`);
      deps.print(r, () => rolloutText(r));
    });
  cmd
    .command('follow')
    .argument('<id>')
    .description('follow a rollout live until it ends, pauses or halts')
    .action((id: string) => followAndReport(id, false));
  for (const [action, what] of [
    ['pause', 'the current group finishes, the next does not start'],
    ['resume', 'go on with the guests not yet done'],
    ['cancel', 'guests in flight finish their stage; nothing else starts'],
  ] as const) {
    cmd
      .command(action)
      .argument('<id>')
      .description(what)
      .action(async (id: string) => {
        const r = await deps.api().post<Rollout>(`/rollouts/${encodeURIComponent(id)}/${action}`, {});
        deps.print(r, () => `rollout ${r.id}: ${r.state}${r.note ? ` - ${r.note}` : ''}`);
      });
  }
  return cmd;
}
