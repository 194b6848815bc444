import { Command, Option } from 'commander';
import { addBackupHookCommands } from '../backup-hooks/cli.js';
import type { ClusterView } from '../cluster/types.js';
import { loadConfig } from '../config/load.js';
import { errorMessage, isPvepatchError, PvepatchError } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import { assertPackageNames } from '../core/validate.js';
import { Daemon } from '../daemon.js';
import type { AgentEnsure } from '../engine/agent-ops.js';
import type { FleetRow } from '../engine/fleet.js';
import type { GuestPlan, RunReport } from '../engine/types.js';
import { parseSelector } from '../proxmox/selectors.js';
import { addSetupCommand } from '../setup/command.js';
import type { LogLine } from '../store/run-log.js';
import type { RunRow } from '../store/runs.js';
import type { RebootRecord, RunSummary } from '../store/state.js';
import { addUiCommand } from '../ui-install/command.js';
import { VERSION } from '../version.js';
import { ApiClient } from './api-client.js';
import { addAuditCommand } from './audit.js';
import { addExceptionCommand } from './exceptions.js';
import { EXIT, exitCodeForError, exitCodeForReport } from './exit-codes.js';
import { type OutputFormat, render } from './format.js';
import { LineFollower, type RunFollower } from './line-follower.js';
import { addNotifyCommand } from './notify.js';
import { type Terminal, terminalProgress } from './progress.js';
import { addRolloutCommand, rolloutFollower } from './rollouts.js';
import { SAVED_PLAN_VERBS, savedPlanCommand } from './saved-plans.js';
import { addScheduleCommand } from './schedules.js';
import { addSettingsCommand } from './settings.js';
import { agentText, clusterText, fleetText, guestsText, planText, rebootsText, reportText, runsText } from './views.js';

interface RunOptions {
  all?: boolean;
  dryRun?: boolean;
  quiet?: boolean;
  follow?: boolean;
  detach?: boolean;
  securityOnly?: boolean;
  reboot?: 'never' | 'if-required' | 'always';
  onFailure?: 'keep' | 'rollback';
  plan?: string;
  exclude: string[];
}

interface Globals {
  config?: string;
  outputFormat: OutputFormat;
}

/** Exclusion words (-105, -tag:x) look like options; pass them to commander as operands. */
export function liftExclusions(argv: string[]): string[] {
  const isExclusion = (a: string) => /^-(\d|tag:|pool:|node:)/.test(a);
  const rest = argv.filter((a) => !isExclusion(a));
  const excl = argv.filter(isExclusion);
  if (excl.length === 0) return argv;
  return rest.includes('--') ? [...rest, ...excl] : [...rest, '--', ...excl];
}

/** Checked here too, so bad input is refused before the daemon is even asked. */
function selectorOf(words: string[], all?: boolean, exclude: string[] = []): string[] {
  const sel = all ? ['all', ...words] : words;
  parseSelector(sel);
  assertPackageNames(exclude);
  return sel;
}

function splitList(v: string, prev: string[] = []): string[] {
  return [
    ...prev,
    ...v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const out = io.out;
  const program = new Command('pvepatch')
    .description('Patch Proxmox VE guests safely: plan, gate on backups, snapshot, patch, report')
    .version(VERSION)
    .option('--config <path>', 'config file (default /etc/pvepatch/pvepatch.conf, or PVEPATCH_CONFIG)')
    .addOption(
      new Option('--output-format <format>', 'output format').choices(['text', 'json', 'json-pretty']).default('text'),
    )
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    // before the subcommands are added: they inherit it, so their parse errors throw too (exit 3, not 1)
    .exitOverride()
    .showHelpAfterError();
  const globals = () => program.opts<Globals>();
  const api = () => new ApiClient(loadConfig(globals().config ? { path: globals().config! } : {}).socket);
  const print = (data: unknown, text: () => string) => out(render(globals().outputFormat, data, text));
  /** Live progress on a terminal in text mode; otherwise the line output (or nothing when `quiet`). */
  const follower = (quiet = false): RunFollower => {
    const text = globals().outputFormat === 'text';
    if (io.terminal && text && !quiet) return terminalProgress(io.terminal);
    return new LineFollower(quiet ? () => {} : out);
  };
  /** Ctrl-C stopped following, not the run. */
  const stoppedFollowing = (id: string) => {
    const run = escapeControls(id);
    io.err(
      `run ${run} continues in the daemon; 'pvepatch log ${run} --follow' to follow it again, 'pvepatch cancel ${run}' to stop it`,
    );
    setExit(EXIT.interrupted);
  };

  program
    .command('daemon')
    .description('run the daemon in the foreground')
    .action(async () => {
      const where = globals().config ? { path: globals().config! } : {};
      const d = new Daemon(loadConfig(where), undefined, { config: where });
      await d.start();
      // SIGHUP (systemctl reload): the config is read again; an invalid one is refused and the old one kept
      process.on('SIGHUP', () => {
        try {
          d.reload(loadConfig(where));
        } catch (err) {
          io.err(`<3>config reload refused, keeping the running config - ${errorMessage(err)}`);
        }
      });
      // the first SIGTERM/SIGINT stops new work and lets each guest finish its stage; a second forces
      await new Promise<void>((resolve) => {
        for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
      });
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => d.force());
      await d.stop();
    });
  program
    .command('guests')
    .argument('[selector...]')
    .option('--all')
    .description('list guests and how each is reached')
    .action(async (words: string[], o: { all?: boolean }) => {
      const sel = words.length || o.all ? selectorOf(words, o.all) : [];
      const rows = await api().get<Parameters<typeof guestsText>[0]>('/guests', {
        selector: sel.length ? sel : ['all'],
      });
      print(rows, () => guestsText(rows));
    });
  program
    .command('cluster')
    .description('the cluster as this node sees it: leader, quorum, which nodes run pvepatchd')
    .action(async () => {
      const v = await api().get<ClusterView>('/cluster');
      print(v, () => clusterText(v));
    });
  const agent = program.command('agent').description('the QEMU guest agent of VMs');
  for (const [action, what] of [
    ['check', 'per VM: agent configured, responding, exec allowed'],
    ['ensure', 'install and start qemu-guest-agent over SSH where missing, set agent: 1, check again'],
  ] as const) {
    agent
      .command(action)
      .argument('[selector...]')
      .option('--all')
      .description(what)
      .action(async (words: string[], o: { all?: boolean }) => {
        const rows = await api().post<AgentEnsure[]>(`/agent/${action}`, { selector: selectorOf(words, o.all) });
        print(rows, () => agentText(rows));
        setExit(rows.every((r) => r.exec_allowed) ? EXIT.ok : EXIT.refused);
      });
  }
  program
    .command('plan')
    .argument('[selector...]')
    .option('--all')
    .option('--exclude <pkgs>', 'packages to keep back (comma-separated)', splitList, [])
    .option('--security-only', 'only updates marked as security fixes')
    .description(
      "show what a run would update; 'plan save <selector…>', 'plan list', 'plan show|approve|rm <id>' keep plans for approval",
    )
    .action(async (words: string[], o: { all?: boolean; securityOnly?: boolean; exclude: string[] }) => {
      if (words[0] !== undefined && SAVED_PLAN_VERBS.has(words[0])) {
        await savedPlanCommand(api(), words, o.securityOnly ?? false, print);
        return;
      }
      const plans = await api().post<GuestPlan[]>('/plan', {
        selector: selectorOf(words, o.all, o.exclude),
        exclude: o.exclude,
        security_only: o.securityOnly ?? false,
      });
      print(plans, () => planText(plans));
      setExit(plans.some((p) => p.updates_available > 0 && !p.skip_reason) ? EXIT.ok : EXIT.nothingToUpdate);
    });
  program
    .command('run')
    .argument('[selector...]')
    .option('--all')
    .option('--dry-run', 'plan and simulate only')
    .option('-q, --quiet', 'print only the report, not the run log as it grows')
    .option('--follow', 'follow the run until it ends, then print its report (the default)')
    .option('--detach', 'print the run id and return at once; the run goes on in the daemon')
    .option('--exclude <pkgs>', 'packages to keep back (comma-separated)', splitList, [])
    .option('--security-only', 'only updates marked as security fixes')
    .option(
      '--plan <id>',
      'install exactly the versions of an approved saved plan (its guests, or those the selector names)',
    )
    .addOption(
      new Option(
        '--reboot <when>',
        'reboot from the hypervisor after the patch (default: the policy, else never)',
      ).choices(['never', 'if-required', 'always']),
    )
    .addOption(
      new Option(
        '--on-failure <what>',
        'when the patch, reboot or checks fail: keep the guest or roll it back',
      ).choices(['keep', 'rollback']),
    )
    .description('patch the selected guests')
    .action(async (words: string[], o: RunOptions) => {
      // checked here: commander's own conflict check would exit the process, not return exit code 3
      if (o.detach && o.follow)
        throw new PvepatchError('input-invalid', "option '--detach' cannot be used with option '--follow'");
      if (o.plan && o.all)
        throw new PvepatchError('input-invalid', "a run of a saved plan takes no '--all': the plan names its guests");
      // with a plan, a selector narrows it to some of its guests
      const selector = o.plan ? words : selectorOf(words, o.all, o.exclude);
      const client = api();
      const run = await client.post<RunSummary>('/runs', {
        selector,
        ...(o.plan ? { plan: o.plan } : {}),
        exclude: o.exclude,
        dry_run: o.dryRun ?? false,
        security_only: o.securityOnly ?? false,
        ...(o.reboot ? { reboot: o.reboot } : {}),
        ...(o.onFailure ? { on_failure: o.onFailure } : {}),
      });
      if (o.detach) {
        print({ id: run.id }, () => run.id);
        return;
      }
      const text = globals().outputFormat === 'text';
      if ((await follow(client, run.id, follower(!text || o.quiet))) === 'interrupted') {
        stoppedFollowing(run.id);
        return;
      }
      const report = await client.get<RunReport>(`/runs/${encodeURIComponent(run.id)}/report`);
      print(report, () => reportText(report));
      setExit(exitCodeForReport(report));
    });
  program
    .command('runs')
    .description('list runs, newest first')
    .option('-f, --follow', 'follow the run that is running now, as log --follow does')
    .option('--start <n>', 'skip the newest n runs', positiveInt, 0)
    .option('--limit <n>', 'runs to list (at most 1000)', positiveInt, 50)
    .action(async (o: { follow?: boolean; start?: number; limit?: number }) => {
      if (o.follow) {
        const client = api();
        const id = await runningRun(client);
        if (globals().outputFormat === 'text') out(`following run ${escapeControls(id)}`);
        if ((await follow(client, id, follower())) === 'interrupted') stoppedFollowing(id);
        return;
      }
      const start = o.start ?? 0;
      const page = await api().page<RunRow>('/runs', { start, limit: o.limit ?? 50 });
      print(page.data, () => runsText(page.data, { start, total: page.total }));
    });
  program
    .command('log')
    .argument('<run-id>')
    .option('-f, --follow', 'print a running run live (stages, output, outcomes) until it ends')
    .description('print the log of a run')
    .action(async (id: string, o: { follow?: boolean }) => {
      if (o.follow) {
        if ((await follow(api(), id, follower())) === 'interrupted') stoppedFollowing(id);
        return;
      }
      const lines = await api().get<LogLine[]>(`/runs/${encodeURIComponent(id)}/log`);
      print(lines, () => lines.map((l) => l.t).join('\n'));
    });
  addAuditCommand(program, { api, print });
  addSettingsCommand(program, { api, print });
  addExceptionCommand(program, { api, print });
  program
    .command('reboots')
    .option('--pending', "only each guest's reboot still pending (deferred to the reboot window)")
    .description('reboot records, newest first: why, and pending → sent → rebooting → completed | failed | timeout')
    .action(async (o: { pending?: boolean }) => {
      const rows = await api().get<RebootRecord[]>('/reboots', { status: o.pending ? 'pending' : 'all' });
      print(rows, () => rebootsText(rows));
    });
  addScheduleCommand(program, { api, print });
  addNotifyCommand(program, { api, print, setExit });
  addBackupHookCommands(program, { io, setExit });
  addSetupCommand(program, { out, config: () => globals().config });
  addUiCommand(program, { out, err: io.err, print, config: () => globals().config });
  addRolloutCommand(program, {
    api,
    print,
    out,
    follow: (id, quiet) =>
      follow(api(), id, rolloutFollower(follower(quiet)), `/rollouts/${encodeURIComponent(id)}/events`),
    interrupted: (id) => {
      const ro = escapeControls(id);
      io.err(
        `rollout ${ro} continues in the daemon; 'pvepatch rollout follow ${ro}' to follow it again, 'pvepatch rollout pause ${ro}' to stop after its current group`,
      );
      setExit(EXIT.interrupted);
    },
    setExit,
  });
  program
    .command('status')
    .argument('[selector...]')
    .option('--all')
    .option('--refresh', 'plan the guests now instead of showing their last plan')
    .description('the fleet: each guest with its last plan, last run and pending reboot')
    .action(async (words: string[], o: { all?: boolean; refresh?: boolean }) => {
      const sel = words.length || o.all ? selectorOf(words, o.all) : ['all'];
      const client = api();
      const rows = o.refresh
        ? await client.post<FleetRow[]>('/fleet/refresh', { selector: sel })
        : await client.get<FleetRow[]>('/fleet', { selector: sel });
      print(rows, () => fleetText(rows));
    });
  program
    .command('cancel')
    .argument('<run-id>')
    .description('cancel a run: guests finish their current stage, the others are skipped')
    .action(async (id: string) => {
      const run = await api().post<RunSummary>(`/runs/${encodeURIComponent(id)}/cancel`, {});
      print(run, () => `cancel requested for run ${run.id}`);
    });
  return program;
}

/**
 * Follows a run's event stream until it ends, handing each event to `to`. Ctrl-C stops only the
 * following (the run goes on in the daemon): then 'interrupted'.
 */
async function follow(
  client: ApiClient,
  id: string,
  to: RunFollower,
  path = `/runs/${encodeURIComponent(id)}/events`,
): Promise<'ended' | 'interrupted'> {
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  const stopped = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve()));
  process.on('SIGINT', onSigint);
  try {
    const stream = client.events(path, (t, d) => to.event(t, d), stop.signal);
    await Promise.race([
      stream.catch((err: unknown) => {
        if (!stop.signal.aborted) throw err;
      }),
      stopped,
    ]);
    return stop.signal.aborted ? 'interrupted' : 'ended';
  } finally {
    process.off('SIGINT', onSigint);
    to.finish();
  }
}

/** The newest run that is running now (GET /runs lists newest first). */
async function runningRun(client: ApiClient): Promise<string> {
  const page = await client.page<Pick<RunRow, 'id' | 'state'>>('/runs', { start: 0, limit: 50 });
  const run = page.data.find((r) => r.state === 'running');
  if (!run) throw new PvepatchError('not-found', "no run is running now - see 'pvepatch runs'");
  return run.id;
}

/** A commander option parser for counts: a non-negative integer, else a clear error. */
function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d{1,9}$/.test(value) || !Number.isSafeInteger(n))
    throw new PvepatchError(
      'input-invalid',
      `invalid number '${escapeControls(value)}' - expected a whole number >= 0`,
    );
  return n;
}

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** stdout when it is a terminal: a run is followed there with live progress. */
  terminal?: Terminal;
}

const processIo: CliIo = {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
  ...(process.stdout.isTTY && process.env.TERM !== 'dumb' ? { terminal: process.stdout } : {}),
};

/** Runs one pvepatch command line and returns its exit code (README "Exit codes"). */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(liftExclusions(argv), { from: 'user' });
    return code;
  } catch (err) {
    const c = (err as { code?: string; exitCode?: number }).code;
    if (typeof c === 'string' && c.startsWith('commander.')) {
      return c === 'commander.helpDisplayed' || c === 'commander.version' ? EXIT.ok : EXIT.invalidInput;
    }
    io.err(escapeControls(errorMessage(err)));
    return isPvepatchError(err) ? exitCodeForError(err.code) : EXIT.error;
  }
}
