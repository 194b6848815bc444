/**
 * Runs setup's commands (argv arrays through execArgv, never a shell) and reports each step as one
 * line. A dry run still runs the read-only queries (lists, versions) but only prints the commands
 * that would change something.
 */
import { PvepatchError } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import { execArgv } from '../core/exec.js';
import { shellQuote } from './commands.js';

const TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 4 * 1024 * 1024;

export interface Runner {
  readonly dryRun: boolean;
  /** Read-only: runs in a dry run too; returns stdout, throws on a non-zero exit. */
  query(argv: string[]): Promise<string>;
  /** A change: run (stdout returned), or in a dry run printed as `  $ <command>` (undefined returned). */
  change(argv: string[]): Promise<string | undefined>;
  /** Like query, but a non-zero exit is data: undefined instead of a throw. */
  probe(argv: string[]): Promise<string | undefined>;
  /** One line of the step-by-step report. */
  say(line: string): void;
}

export function createRunner(dryRun: boolean, out: (line: string) => void): Runner {
  const run = async (argv: string[], failIsData: boolean) => {
    const r = await execArgv(argv, { timeoutMs: TIMEOUT_MS, maxOutputBytes: MAX_OUTPUT });
    if (r.exitCode === 0 && !r.timedOut) return r.stdout;
    if (failIsData && !r.timedOut) return undefined;
    // stdout is never shown: `token add` prints the secret there
    const why = r.timedOut
      ? `no answer within ${TIMEOUT_MS / 1000}s`
      : firstLine(r.stderr) || `exit code ${r.exitCode}`;
    throw new PvepatchError('proxmox-error', `unable to run '${shellQuote(argv)}' - ${escapeControls(why)}`);
  };
  return {
    dryRun,
    query: async (argv) => (await run(argv, false)) as string,
    probe: (argv) => run(argv, true),
    change: async (argv) => {
      if (dryRun) {
        out(`  $ ${shellQuote(argv)}`);
        return undefined;
      }
      return run(argv, false);
    },
    say: (line) => out(escapeControls(line)),
  };
}

function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').slice(0, 500);
}
