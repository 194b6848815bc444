/**
 * One guest round trip for a whole stage: a POSIX `sh -s` started once in the guest (one `pct
 * exec`), reading its commands on stdin. Every command is an argv array; each word is sent inside
 * single quotes, the one POSIX form in which no character is special, so no data ever becomes
 * shell syntax. The shell prints each command's output between markers carrying a fresh random
 * nonce per command, so nothing the guest prints can end a section or forge an exit code.
 *
 * Every command runs with stdin from /dev/null (the shell's own stdin is the command channel).
 * Output, timeouts and streaming are bounded exactly as for a standalone exec: a timeout or an
 * output overrun kills the session's process group, and the next command opens a new session.
 */
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { PvepatchError } from '../../core/errors.js';
import { Capture, DEFAULT_MAX_OUTPUT, type ExecResult, type LiveProcess, type OutputStream } from '../../core/exec.js';

export interface SessionRunOptions {
  timeoutMs: number;
  maxOutputBytes?: number;
  overflow?: 'kill' | 'drain';
  onOutput?: (stream: OutputStream, chunk: string) => void;
}

/**
 * The transport's own errors, so a command in a session fails exactly as a standalone exec would:
 * one that did not exit within its timeout, and one whose shell ended before the command did
 * (pct's refusal to enter, or a container that went away).
 */
export interface SessionErrors {
  timedOut(argv: readonly string[], timeoutMs: number): Error;
  endedEarly(argv: readonly string[], res: ExecResult): Error;
}

/** Builtins that would change or end the session's shell itself; never sent as a command. */
const SHELL_STATE_BUILTINS = new Set([
  '.',
  ':',
  'alias',
  'break',
  'cd',
  'continue',
  'eval',
  'exec',
  'exit',
  'export',
  'read',
  'readonly',
  'return',
  'set',
  'shift',
  'source',
  'trap',
  'umask',
  'unalias',
  'unset',
  'wait',
  'ulimit',
  'local',
]);

/** `'word'`, with each `'` written as `'\''`: the shell reads it back byte for byte. */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new PvepatchError('internal', 'unable to send a command word containing NUL');
  return `'${word.split("'").join("'\\''")}'`;
}

/** The line the session's shell runs for one argv: begin markers, the command, end markers with `$?`. */
export function sessionLine(argv: readonly string[], nonce: string): string {
  const name = argv[0];
  if (!name) throw new PvepatchError('internal', 'unable to run command - empty argv');
  if (SHELL_STATE_BUILTINS.has(name)) {
    throw new PvepatchError('internal', `unable to send '${name}' to a guest shell session - it is a shell builtin`);
  }
  const words = argv.map(shellQuote).join(' ');
  return (
    `printf '%s\\n' B${nonce}; printf '%s\\n' B${nonce} >&2; ` +
    `${words} </dev/null; ` +
    `printf '\\n%s %s\\n' E${nonce} "$?"; printf '\\n%s\\n' E${nonce} >&2\n`
  );
}

/**
 * Cuts one command's output out of a stream: bytes before `B<nonce>\n` are stray (a background
 * process of an earlier command) and dropped; the content runs to `\nE<nonce>`; the trailer after
 * it (` <exit code>` on stdout) runs to the next newline. Linear: indexOf over new bytes only,
 * with a held-back tail shorter than a marker.
 */
export class SectionReader {
  private state: 'before' | 'in' | 'trailer' | 'done' = 'before';
  private pending: Buffer = Buffer.alloc(0);
  private readonly begin: Buffer;
  private readonly end: Buffer;
  trailer = '';
  /** Up to 4 KiB of what was dropped before the begin marker (pct's own complaint, for errors). */
  stray = '';

  /** Bytes at the start of `pending` already handed to `live`. */
  private liveSent = 0;
  /** The last byte handed to `live` (10 = a line just ended; also at the start). */
  private lastLive = 10;

  /**
   * `content` gets the exact output, held back by less than a marker; `live` gets it at once for
   * streaming (only a newline that may start the end marker waits, and only when it would not end
   * a line), so a line printed before a long pause reaches the log without waiting for more output.
   */
  constructor(
    nonce: string,
    private readonly content: (chunk: Buffer) => void,
    private readonly live: (chunk: Buffer) => void = () => {},
  ) {
    this.begin = Buffer.from(`B${nonce}\n`);
    this.end = Buffer.from(`\nE${nonce}`);
  }

  get done(): boolean {
    return this.state === 'done';
  }

  push(chunk: Buffer): void {
    if (this.state === 'done') return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.state === 'before') {
      const at = this.pending.indexOf(this.begin);
      if (at < 0) {
        const keep = Math.max(0, this.pending.length - this.begin.length + 1);
        this.keepStray(this.pending.subarray(0, keep));
        this.pending = this.pending.subarray(keep);
        return;
      }
      this.keepStray(this.pending.subarray(0, at));
      this.pending = this.pending.subarray(at + this.begin.length);
      this.state = 'in';
    }
    if (this.state === 'in') {
      const at = this.pending.indexOf(this.end);
      if (at < 0) {
        this.sendLive(this.liveLimit());
        const keep = this.end.length - 1;
        if (this.pending.length > keep) {
          const n = this.pending.length - keep;
          this.content(this.pending.subarray(0, n));
          this.pending = this.pending.subarray(n);
          this.liveSent = Math.max(0, this.liveSent - n);
        }
        return;
      }
      this.sendLive(at);
      // the marker's newline ends the command's last line when the command did not
      if (this.liveSent <= at && this.lastLive !== 10) this.live(this.end.subarray(0, 1));
      if (at > 0) this.content(this.pending.subarray(0, at));
      this.pending = this.pending.subarray(at + this.end.length);
      this.state = 'trailer';
    }
    const nl = this.pending.indexOf(10);
    if (nl < 0) {
      if (this.pending.length > 64) this.state = 'done'; // not ours: the shell prints a short trailer
      return;
    }
    this.trailer = this.pending.subarray(0, nl).toString('latin1').trim();
    this.pending = Buffer.alloc(0);
    this.state = 'done';
  }

  /**
   * How much of `pending` may be streamed: all of it, unless its tail after the last newline could
   * be the start of the end marker; that newline itself is streamed when it ends a line.
   */
  private liveLimit(): number {
    const p = this.pending;
    const nl = p.lastIndexOf(10);
    if (nl < 0 || p.length - nl >= this.end.length) return p.length;
    if (!p.subarray(nl).equals(this.end.subarray(0, p.length - nl))) return p.length;
    const before = nl > 0 ? p[nl - 1] : nl >= this.liveSent ? this.lastLive : 10;
    return before === 10 ? nl : nl + 1;
  }

  private sendLive(to: number): void {
    if (to <= this.liveSent) return;
    this.live(this.pending.subarray(this.liveSent, to));
    this.lastLive = this.pending[to - 1]!;
    this.liveSent = to;
  }

  /** The pending bytes that never became content (a shell that died before its begin marker). */
  get unread(): string {
    return this.state === 'before' ? this.stray + this.pending.toString('utf8') : this.stray;
  }

  private keepStray(bytes: Buffer): void {
    if (bytes.length > 0 && this.stray.length < 4096)
      this.stray += bytes.toString('utf8').slice(0, 4096 - this.stray.length);
  }
}

interface Running {
  argv: readonly string[];
  timeoutMs: number;
  readers: Record<OutputStream, SectionReader>;
  caps: Record<OutputStream, Capture>;
  started: number;
  timedOut: boolean;
  resolve: (res: ExecResult) => void;
  reject: (err: unknown) => void;
  timer?: NodeJS.Timeout;
}

/** A guest shell kept open for one stage's commands, run one after another. */
export class ShellSession {
  private current: Running | undefined;
  /** Output outside any command (pct's own complaint when it cannot enter), kept small. */
  private stray = '';
  private ended = false;
  private readonly proc: LiveProcess;

  /** `spawn` starts the shell and routes its output here; `errors` are the transport's. */
  constructor(
    spawn: (onData: (stream: OutputStream, chunk: Buffer) => void) => LiveProcess,
    private readonly errors: SessionErrors,
  ) {
    this.proc = spawn((stream, chunk) => this.data(stream, chunk));
    this.proc.exited.then(
      (how) => this.exit(how),
      (err) => this.fail(err),
    );
  }

  /** False once the shell ended (or was killed); the caller opens a new session. */
  get alive(): boolean {
    return !this.ended;
  }

  run(argv: readonly string[], opts: SessionRunOptions): Promise<ExecResult> {
    if (this.current) throw new PvepatchError('internal', 'a guest shell session runs one command at a time');
    if (!this.alive) throw new PvepatchError('internal', 'the guest shell session has ended');
    const nonce = randomBytes(16).toString('hex');
    const line = sessionLine(argv, nonce);
    const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    return new Promise<ExecResult>((resolve, reject) => {
      const caps = { stdout: new Capture(max), stderr: new Capture(max) };
      const content = (stream: OutputStream) => (chunk: Buffer) => {
        caps[stream].push(chunk);
        if (caps[stream].overflowed && (opts.overflow ?? 'kill') === 'kill') this.proc.kill();
      };
      const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
      const live = (stream: OutputStream) => (chunk: Buffer) => {
        if (!opts.onOutput || caps[stream].overflowed) return;
        const text = decoders[stream].write(chunk);
        try {
          if (text) opts.onOutput(stream, text);
        } catch {
          // a failing log writer must not take the command down
        }
      };
      const run: Running = {
        argv,
        timeoutMs: opts.timeoutMs,
        readers: {
          stdout: new SectionReader(nonce, content('stdout'), live('stdout')),
          stderr: new SectionReader(nonce, content('stderr'), live('stderr')),
        },
        caps,
        started: Date.now(),
        timedOut: false,
        resolve,
        reject,
      };
      run.timer = setTimeout(() => {
        run.timedOut = true;
        this.proc.kill();
      }, opts.timeoutMs);
      this.current = run;
      this.proc.write(line);
    });
  }

  /** Closes stdin and waits for the shell to exit; kills it if it does not within `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    if (this.ended) return;
    this.proc.end();
    const timer = setTimeout(() => this.proc.kill(), graceMs);
    await this.proc.exited.catch(() => {});
    clearTimeout(timer);
  }

  private data(stream: OutputStream, chunk: Buffer): void {
    const run = this.current;
    if (!run) {
      if (stream === 'stderr' && this.stray.length < 4096)
        this.stray += chunk.toString('utf8').slice(0, 4096 - this.stray.length);
      return;
    }
    run.readers[stream].push(chunk);
    if (run.readers.stdout.done && run.readers.stderr.done) this.finish(run, parseExit(run.readers.stdout.trailer));
  }

  private finish(run: Running, exitCode: number | null): void {
    clearTimeout(run.timer);
    this.current = undefined;
    run.resolve(this.result(run, exitCode, null));
  }

  private result(run: Running, exitCode: number | null, signal: NodeJS.Signals | null): ExecResult {
    const { caps } = run;
    return {
      exitCode,
      signal,
      stdout: caps.stdout.text(),
      stderr: caps.stderr.text(),
      truncated: caps.stdout.overflowed || caps.stderr.overflowed,
      durationMs: Date.now() - run.started,
      timedOut: run.timedOut,
      bytes: { stdout: caps.stdout.bytes, stderr: caps.stderr.bytes },
    };
  }

  /** The shell is gone: a command still running ends with its timeout, its overrun or the transport's error. */
  private exit(how: { exitCode: number | null; signal: NodeJS.Signals | null }): void {
    this.ended = true;
    const run = this.current;
    if (!run) return;
    clearTimeout(run.timer);
    this.current = undefined;
    const res = this.result(run, null, 'SIGKILL');
    if (run.timedOut) run.reject(this.errors.timedOut(run.argv, run.timeoutMs));
    else if (res.truncated) run.resolve(res);
    else {
      // what the transport sees of a shell that ended before the command's end marker
      const stderr = `${this.stray}${run.readers.stderr.unread}${res.stderr}`;
      run.reject(this.errors.endedEarly(run.argv, { ...res, ...how, stderr }));
    }
  }

  private fail(err: unknown): void {
    this.ended = true;
    const run = this.current;
    if (!run) return;
    clearTimeout(run.timer);
    this.current = undefined;
    run.reject(err);
  }
}

function parseExit(trailer: string): number | null {
  let n = 0;
  if (trailer.length === 0 || trailer.length > 3) return null;
  for (const ch of trailer) {
    if (ch < '0' || ch > '9') return null;
    n = n * 10 + (ch.charCodeAt(0) - 48);
  }
  return n;
}
