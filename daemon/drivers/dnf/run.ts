/**
 * Running one argv in the guest for the rpm-family drivers (dnf and yum): logs the command,
 * optionally streams its output lines, and returns the result — a non-zero exit is data.
 */
import type { ExecResult } from '../../core/exec.js';
import type { DriverContext } from '../types.js';

export const READ_TIMEOUT_MS = 120_000;
/** Metadata downloads and whole-repository reads. */
export const REFRESH_TIMEOUT_MS = 600_000;
/** Default wait for a package-manager lock held by someone else. */
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
export const DEFAULT_UPGRADE_TIMEOUT_MS = 15 * 60_000;

export interface RunOptions {
  timeoutMs?: number;
  /** Stream output lines to the log as they arrive. */
  stream?: boolean;
}

export async function run(ctx: DriverContext, argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  ctx.log?.(`$ ${argv.join(' ')}`);
  const onOutput = opts.stream && ctx.log ? lineSplitter(ctx.log) : undefined;
  return ctx.transport.exec(argv, { timeoutMs: opts.timeoutMs ?? READ_TIMEOUT_MS, ...(onOutput ? { onOutput } : {}) });
}

function lineSplitter(log: (line: string) => void): (stream: 'stdout' | 'stderr', chunk: string) => void {
  const rest = { stdout: '', stderr: '' };
  return (stream, chunk) => {
    const lines = (rest[stream] + chunk).split('\n');
    rest[stream] = lines.pop() ?? '';
    for (const line of lines) log(line);
  };
}

/** Both streams, for parsers that do not care where a message went. */
export function allOutput(res: ExecResult): string {
  return `${res.stdout}\n${res.stderr}`;
}

/**
 * dnf's and yum's final word on a failure: the text after the first `Error:` (continued by the
 * next line when it ends in `:`), with an earlier scriptlet or rpm error in parentheses; else the
 * first line on stderr, else the exit code.
 */
export function failureCause(res: ExecResult): string {
  const lines = allOutput(res)
    .split('\n')
    .map((l) => l.trim());
  const at = lines.findIndex((l) => l.startsWith('Error:'));
  if (at >= 0) {
    let text = lines[at]?.slice('Error:'.length).trim() ?? '';
    const next = lines.slice(at + 1).find((l) => l.length > 0);
    if ((text === '' || text.endsWith(':')) && next) text = text ? `${text} ${next}` : next;
    const earlier = lines.slice(0, at).find((l) => /^(Error in |error: |RPM: error: )/.test(l));
    if (text) return earlier ? `${text} (${earlier})` : text;
  }
  const first = res.stderr
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  return first ?? `exit code ${res.exitCode ?? res.signal}`;
}
