import { spawn } from 'node:child_process';
import { PvepatchError, UnreachableError } from './errors.js';

export interface ExecOptions {
  /** Kill the process (SIGKILL after SIGTERM grace) after this many milliseconds. */
  timeoutMs?: number;
  /** Written to stdin, then stdin is closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Cap for each captured stream; output beyond it is dropped and `truncated` is set. */
  maxOutputBytes?: number;
  /** Called with each chunk as it arrives (for streaming into run logs). */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void;
}

export interface ExecResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
  timedOut: boolean;
}

const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

/**
 * Runs a program with an argv array — never through a shell. A non-zero exit is data in the
 * result; this throws only when the program cannot be started at all.
 */
export function execArgv(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) throw new PvepatchError('internal', 'unable to run command - empty argv');
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    let truncated = false;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      opts.onOutput?.(stream, text);
      if (out[stream].length + text.length > max) {
        truncated = true;
        out[stream] += text.slice(0, Math.max(0, max - out[stream].length));
      } else out[stream] += text;
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    child.stdin.on('error', () => {}); // the program may exit before reading its input
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new UnreachableError(`unable to run '${file}' - ${err.message}`, { cause: err }));
    });
    child.on('exit', () => {
      // after a timeout, a grandchild may still hold the pipes open; stop waiting for it
      if (!timedOut) return;
      child.stdout.destroy();
      child.stderr.destroy();
    });
    child.on('close', (exitCode, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ exitCode, signal, ...out, truncated, durationMs: Date.now() - started, timedOut });
    });
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 2000).unref();
      }, opts.timeoutMs);
    }
    child.stdin.end(opts.input ?? '');
  });
}
