import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { PvepatchError, UnreachableError } from './errors.js';

export type OutputStream = 'stdout' | 'stderr';

export interface ExecOptions {
  /** Kill the process group (SIGKILL after a 2 s SIGTERM grace) after this many milliseconds. */
  timeoutMs?: number;
  /** Written to stdin, then stdin is closed. */
  input?: string;
  /** The child's whole environment; default MINIMAL_ENV, never the daemon's own. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Cap per captured stream; beyond it the head and the tail are kept and `truncated` is set. */
  maxOutputBytes?: number;
  /**
   * What to do when a stream passes the cap: 'kill' ends the command at once (reads, whose answer
   * is useless once cut); 'drain' keeps reading until it exits or times out (a transaction that
   * must not be cut because it is chatty). Default 'kill'.
   */
  overflow?: 'kill' | 'drain';
  /** Called with each decoded chunk as it arrives; an exception in it is caught and counted. */
  onOutput?: (stream: OutputStream, chunk: string) => void;
}

export interface ExecResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** A stream passed maxOutputBytes: the text is head + marker + tail, never the whole. */
  truncated: boolean;
  durationMs: number;
  timedOut: boolean;
  /** Bytes each stream really produced (also beyond the cap). */
  bytes?: { stdout: number; stderr: number };
}

export const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;
/** What every child gets unless told otherwise: no token, no proxy, no locale from the daemon. */
export const MINIMAL_ENV: Readonly<NodeJS.ProcessEnv> = Object.freeze({
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
});

/**
 * One captured stream, bounded in memory whatever the child prints: raw chunks up to `max` bytes;
 * past that only the first `max / 2` bytes and a ring of the last ones are kept, and the rest is
 * counted, not decoded (a child printing gigabytes costs copies, not strings). Text is decoded as
 * UTF-8 with a StringDecoder, so a character split across chunks stays whole.
 */
export class Capture {
  private readonly live = new StringDecoder('utf8');
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  bytes = 0;
  overflowed = false;

  constructor(private readonly max: number) {}

  /** Keeps what fits; returns the decoded text for streaming, or '' once past the cap. */
  push(chunk: Buffer): string {
    this.bytes += chunk.length;
    if (!this.overflowed && this.headBytes + chunk.length <= this.max) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
      return this.live.write(chunk);
    }
    if (!this.overflowed) this.overflow();
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= this.max / 2) {
      this.tailBytes -= this.tail.shift()!.length;
    }
    return '';
  }

  /** Decoded text left over at the end of the stream (a final partial character). */
  end(): string {
    return this.overflowed ? '' : this.live.end();
  }

  /** Splits what was kept so far into a head of max/2 bytes and a tail. */
  private overflow(): void {
    this.overflowed = true;
    const all = Buffer.concat(this.head);
    const half = Math.floor(this.max / 2);
    this.head = [all.subarray(0, half)];
    this.headBytes = Math.min(half, all.length);
    if (all.length > half) {
      this.tail = [all.subarray(half)];
      this.tailBytes = all.length - half;
    }
  }

  text(): string {
    const head = new StringDecoder('utf8');
    const first = head.write(Buffer.concat(this.head)) + head.end();
    if (!this.overflowed) return first;
    const tail = Buffer.concat(this.tail);
    const keep = tail.subarray(Math.max(0, tail.length - Math.floor(this.max / 2)));
    const left = this.bytes - this.headBytes - keep.length;
    return `${first}\n[... ${left} bytes left out ...]\n${keep.toString('utf8')}`;
  }
}

/**
 * Runs a program with an argv array — never through a shell — in its own process group, with a
 * minimal environment and bounded output. A non-zero exit is data in the result; this throws
 * only when the program cannot be started at all.
 */
export function execArgv(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const started = Date.now();
  const cap = { stdout: new Capture(max), stderr: new Capture(max) };
  let timedOut = false;
  const emit = (stream: OutputStream, text: string) => {
    if (text === '' || !opts.onOutput) return;
    try {
      opts.onOutput(stream, text);
    } catch {
      // a failing log writer must not take the command (or the daemon) down with it
    }
  };
  const child = spawnLive(
    argv,
    (stream, chunk) => {
      emit(stream, cap[stream].push(chunk));
      if (cap[stream].overflowed && (opts.overflow ?? 'kill') === 'kill') child.kill();
    },
    { ...(opts.env ? { env: opts.env } : {}), ...(opts.cwd ? { cwd: opts.cwd } : {}) },
  );
  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          child.kill();
        }, opts.timeoutMs);
  child.write(opts.input ?? '');
  child.end();
  return child.exited.then(
    ({ exitCode, signal }) => {
      clearTimeout(timer);
      emit('stdout', cap.stdout.end());
      emit('stderr', cap.stderr.end());
      return {
        exitCode,
        signal,
        stdout: cap.stdout.text(),
        stderr: cap.stderr.text(),
        truncated: cap.stdout.overflowed || cap.stderr.overflowed,
        durationMs: Date.now() - started,
        timedOut,
        bytes: { stdout: cap.stdout.bytes, stderr: cap.stderr.bytes },
      };
    },
    (err: unknown) => {
      clearTimeout(timer);
      throw err;
    },
  );
}

/** A child whose stdin stays open until `end()` (a guest shell); its process group is killed as one. */
export interface LiveProcess {
  write(text: string): void;
  /** Closes stdin: a shell reading its script from it exits after its last command. */
  end(): void;
  /** SIGTERM to the whole group, SIGKILL 2 s later. */
  kill(): void;
  readonly exited: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  /** The child's whole environment; default MINIMAL_ENV, never the daemon's own. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * After the child exits, how long to keep reading pipes that a process it started still holds
   * open; default: until they close. After a kill they are never waited for.
   */
  lingerMs?: number;
}

/**
 * Starts argv (never through a shell) in its own process group and hands its output chunks,
 * undecoded, to `onData`. `exited` rejects with UnreachableError when the program cannot start.
 */
export function spawnLive(
  argv: readonly string[],
  onData: (stream: OutputStream, chunk: Buffer) => void,
  opts: SpawnOptions = {},
): LiveProcess {
  const [file, ...args] = argv;
  if (!file) throw new PvepatchError('internal', 'unable to run command - empty argv');
  const child = spawn(file, args, {
    env: opts.env ?? MINIMAL_ENV,
    cwd: opts.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let killed = false;
  child.stdout.on('data', (c: Buffer) => onData('stdout', c));
  child.stderr.on('data', (c: Buffer) => onData('stderr', c));
  child.stdin.on('error', () => {}); // the program may exit before reading its input
  const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (err) =>
      reject(new UnreachableError(`unable to run '${file}' - ${err.message}`, { cause: err })),
    );
    child.on('exit', () => {
      // after a kill (or the linger), a grandchild may still hold the pipes open; stop waiting for it
      const linger = killed ? 0 : opts.lingerMs;
      if (linger === undefined) return;
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, linger).unref();
    });
    child.on('close', (exitCode, signal) => resolve({ exitCode, signal }));
  });
  exited.catch(() => {});
  return {
    write: (text) => {
      if (child.stdin.writable) child.stdin.write(text);
    },
    end: () => child.stdin.end(),
    kill: () => {
      if (killed) return;
      killed = true;
      signalGroup(child.pid, 'SIGTERM');
      setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 2000).unref();
    },
    exited,
  };
}

/** Signals the child's whole process group (it leads one: spawned detached). */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** The program an argv runs, past `env` and its `NAME=value` settings (for messages). */
export function commandName(argv: readonly string[]): string {
  if (argv[0] !== 'env') return argv[0] ?? '';
  let i = 1;
  while (i < argv.length && argv[i]!.includes('=')) i++;
  return argv[i] ?? '';
}
