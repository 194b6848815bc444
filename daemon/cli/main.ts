import { Command, Option } from 'commander';
import { loadConfig } from '../config/load.js';
import { errorMessage, isPvepatchError } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import { assertPackageNames } from '../core/validate.js';
import { Daemon } from '../daemon.js';
import type { AgentEnsure } from '../engine/agent-ops.js';
import type { FleetRow } from '../engine/fleet.js';
import type { GuestPlan, RunReport } from '../engine/types.js';
import { parseSelector } from '../proxmox/selectors.js';
import type { LogLine } from '../store/run-log.js';
import type { RunSummary } from '../store/state.js';
import { VERSION } from '../version.js';
import { ApiClient } from './api-client.js';
import { addAuditCommand } from './audit.js';
import { EXIT, exitCodeForError, exitCodeForReport } from './exit-codes.js';
import { type OutputFormat, render } from './format.js';
import { agentText, fleetText, guestsText, planText, reportText, runsText } from './views.js';

interface RunOptions {
  all?: boolean;
  dryRun?: boolean;
  quiet?: boolean;
  securityOnly?: boolean;
  reboot?: 'never' | 'if-required' | 'always';
  onFailure?: 'keep' | 'rollback';
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
    .showHelpAfterError();
  const globals = () => program.opts<Globals>();
  const api = () => new ApiClient(loadConfig(globals().config ? { path: globals().config! } : {}).socket);
  const print = (data: unknown, text: () => string) => out(render(globals().outputFormat, data, text));

  program
    .command('daemon')
    .description('run the daemon in the foreground')
    .action(async () => {
      const where = globals().config ? { path: globals().config! } : {};
      const d = new Daemon(loadConfig(where));
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
    .description('show what a run would update')
    .action(async (words: string[], o: { all?: boolean; securityOnly?: boolean; exclude: string[] }) => {
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
    .option('--exclude <pkgs>', 'packages to keep back (comma-separated)', splitList, [])
    .option('--security-only', 'only updates marked as security fixes')
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
      const selector = selectorOf(words, o.all, o.exclude);
      const client = api();
      const run = await client.post<RunSummary>('/runs', {
        selector,
        exclude: o.exclude,
        dry_run: o.dryRun ?? false,
        security_only: o.securityOnly ?? false,
        ...(o.reboot ? { reboot: o.reboot } : {}),
        ...(o.onFailure ? { on_failure: o.onFailure } : {}),
      });
      await follow(client, run.id, globals().outputFormat === 'text' && !o.quiet ? out : () => {});
      const report = await client.get<RunReport>(`/runs/${encodeURIComponent(run.id)}/report`);
      print(report, () => reportText(report));
      setExit(exitCodeForReport(report));
    });
  program
    .command('runs')
    .description('list runs, newest first')
    .action(async () => {
      const runs = await api().get<RunSummary[]>('/runs');
      print(runs, () => runsText(runs));
    });
  program
    .command('log')
    .argument('<run-id>')
    .option('-f, --follow', 'print a running run live (stages, output, outcomes) until it ends')
    .description('print the log of a run')
    .action(async (id: string, o: { follow?: boolean }) => {
      if (o.follow) {
        await follow(api(), id, out);
        return;
      }
      const lines = await api().get<LogLine[]>(`/runs/${encodeURIComponent(id)}/log`);
      print(lines, () => lines.map((l) => l.t).join('\n'));
    });
  addAuditCommand(program, { api, print });
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
 * Prints a run live from its event stream until it ends: every log line (pvepatch's and the
 * guests' output), each guest's stage as it changes, and each guest's outcome.
 */
async function follow(client: ApiClient, id: string, out: (s: string) => void): Promise<void> {
  await client.events(`/runs/${encodeURIComponent(id)}/events`, (type, data) => {
    const e = data as { vmid?: number; stage?: string; line?: string; result?: { vmid: number; outcome: string } };
    if (type === 'log' && e.line !== undefined) out(escapeControls(e.line));
    else if (type === 'stage') out(`-- ${e.vmid}: ${e.stage}`);
    else if (type === 'guest-result' && e.result) out(`-- ${e.result.vmid}: ${e.result.outcome}`);
  });
}

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: CliIo = {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
};

/** Runs one pvepatch command line and returns its exit code (README "Exit codes"). */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  program.exitOverride();
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
