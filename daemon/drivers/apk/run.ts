/** The one place the apk driver talks to the transport. */
import type { ExecResult } from '../../core/exec.js';
import type { DriverContext } from '../types.js';

export const READ_TIMEOUT_MS = 120_000;

export interface RunOptions {
  timeoutMs?: number;
  /** Stream output lines to the log as they arrive. */
  stream?: boolean;
  /** Text for the command's stdin. */
  input?: string;
}

/** Runs one argv in the guest; a non-zero exit is returned, not thrown. */
export async function run(ctx: DriverContext, argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const log = ctx.log;
  log?.(`$ ${argv.join(' ')}`);
  const onOutput = opts.stream && log ? lineSplitter(log) : undefined;
  return ctx.transport.exec(argv, {
    timeoutMs: opts.timeoutMs ?? READ_TIMEOUT_MS,
    ...(onOutput ? { onOutput } : {}),
    ...(opts.input === undefined ? {} : { input: opts.input }),
  });
}

function lineSplitter(log: (line: string) => void): (stream: 'stdout' | 'stderr', chunk: string) => void {
  const rest = { stdout: '', stderr: '' };
  return (stream, chunk) => {
    const lines = (rest[stream] + chunk).split('\n');
    rest[stream] = lines.pop() ?? '';
    for (const line of lines) log(line);
  };
}

/** stdout and stderr together, for the message parsers (apk logs to stdout, errors to stderr). */
export function output(res: ExecResult): string {
  return `${res.stdout}\n${res.stderr}`;
}
