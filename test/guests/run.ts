import { execArgv } from '../../daemon/core/exec.js';

/** Outcome of a finished program; a signal death is reported as 128 + signal number, like a shell. */
export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Runs argv (never through a shell) and returns its exit code and output. */
export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const res = await execArgv(argv, { ...opts, timeoutMs: opts.timeoutMs ?? 300_000 });
  const exitCode = res.exitCode ?? 128 + (res.signal ? (SIGNALS[res.signal] ?? 0) : 0);
  return { exitCode, stdout: res.stdout, stderr: res.stderr };
}

/** Like run, but throws with the command and its stderr when the exit code is not 0. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const res = await run(argv, opts);
  if (res.exitCode !== 0) {
    const tail = (res.stderr || res.stdout).trim().split('\n').slice(-15).join('\n');
    throw new Error(`unable to run '${argv.join(' ')}' - exit code ${res.exitCode}\n${tail}`);
  }
  return res;
}
