/**
 * The one way drivers and stages run commands in a guest. Every command is logged, bounded in
 * time (its own timeout, and never past the guest's deadline over all its commands) and in output
 * (bytes per command, characters per streamed line), and counted. A guest that prints more than
 * the cap fails the command: a truncated answer is an error, never a partial success.
 */
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import { commandName, DEFAULT_MAX_OUTPUT } from '../../core/exec.js';
import type { Transport } from '../../transports/types.js';
import { LineSplitter } from './lines.js';
import type { ShellSession } from './shell-session.js';

export const READ_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_LINE = 8192;

export interface GuestExecSettings {
  /** pvepatch's own statements about this guest (the `$ argv` lines). */
  log?: ((text: string) => void) | undefined;
  /** The guest's own output lines, when a command streams. */
  output?: ((line: string) => void) | undefined;
  /** False once the output's destination takes no more (the run log is full): lines are not even split. */
  outputOpen?: () => boolean;
  /** Epoch milliseconds after which no command may run in this guest (guest_timeout). */
  deadline?: number;
  maxOutputBytes?: number;
  maxLineLength?: number;
}

export interface GuestRunOptions {
  timeoutMs?: number;
  /** Stream output lines to the log as they arrive. */
  stream?: boolean;
  input?: string;
  /**
   * The command changes the guest (an upgrade, a hold): output past the cap does not cut it
   * short, it runs to its end and then fails; a read is ended at once.
   */
  changes?: boolean;
}

export class GuestExec {
  readonly transport: Transport;
  private readonly s: GuestExecSettings;
  /** Entries into the guest (a standalone exec or a stage's shell session): the cost that counts. */
  roundTrips = 0;
  /** Commands run, in sessions or not, and the milliseconds spent waiting for them. */
  execs = 0;
  guestMs = 0;
  private session: ShellSession | undefined;
  private staged = 0;

  constructor(transport: Transport, settings: GuestExecSettings = {}) {
    this.transport = transport;
    this.s = settings;
  }

  /**
   * Runs `fn` as one stage: its commands share one guest shell session (one round trip) when the
   * transport can keep a shell open; the session is closed when `fn` ends, whatever the outcome.
   */
  async stage<T>(fn: () => Promise<T>): Promise<T> {
    this.begin();
    try {
      return await fn();
    } finally {
      await this.end();
    }
  }

  /** Opens a stage scope by hand (the engine keeps one across the stages of a pool). */
  begin(): void {
    this.staged++;
  }

  /** Closes a scope opened with begin(); the last one closes the session. */
  async end(): Promise<void> {
    if (this.staged > 0 && --this.staged === 0) await this.closeSession();
  }

  /** Ends the stage's shell, if one is open (also after a failure: a stuck shell is killed). */
  async closeSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.close();
  }

  /** Runs one argv in the guest; a non-zero exit is returned, not thrown. */
  async run(argv: readonly string[], opts: GuestRunOptions = {}): Promise<ExecResult> {
    const timeoutMs = this.timeoutFor(argv, opts.timeoutMs ?? READ_TIMEOUT_MS);
    this.s.log?.(`$ ${argv.join(' ')}`);
    const split = opts.stream && this.s.output ? this.splitters(this.s.output) : undefined;
    const max = this.s.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const started = Date.now();
    this.execs++;
    const o = {
      timeoutMs,
      maxOutputBytes: max,
      overflow: opts.changes ? ('drain' as const) : ('kill' as const),
      ...(split ? { onOutput: (stream: 'stdout' | 'stderr', chunk: string) => this.stream(split[stream], chunk) } : {}),
    };
    try {
      const session = opts.input === undefined ? this.openSession() : undefined;
      let res: ExecResult;
      if (session) {
        res = await session.run(argv, o);
      } else {
        this.roundTrips++;
        res = await this.transport.exec(argv, {
          ...o,
          ...(opts.input === undefined ? {} : { input: opts.input }),
          // a streamed change is the long work (an upgrade) a fragile channel must not carry
          ...(opts.stream && opts.changes ? { detach: true } : {}),
        });
      }
      if (res.truncated) throw overflowError(argv, max, res);
      return res;
    } finally {
      this.guestMs += Date.now() - started;
      split?.stdout.flush();
      split?.stderr.flush();
    }
  }

  /** The stage's session, opened on its first command; undefined outside a stage or without support. */
  private openSession(): ShellSession | undefined {
    if (this.staged === 0 || !this.transport.openSession) return undefined;
    if (this.session?.alive) return this.session;
    this.session = this.transport.openSession();
    this.roundTrips++;
    return this.session;
  }

  private stream(split: LineSplitter, chunk: string): void {
    if (this.s.outputOpen?.() ?? true) split.push(chunk);
  }

  /** The command's own timeout, shortened to what is left of the guest's deadline. */
  private timeoutFor(argv: readonly string[], timeoutMs: number): number {
    if (this.s.deadline === undefined) return timeoutMs;
    const left = this.s.deadline - Date.now();
    if (left <= 0) {
      throw new PvepatchError(
        'timeout',
        `unable to run '${commandName(argv)}' in the guest - its time (guest_timeout) is used up; raise guest_timeout if the guest is just slow`,
      );
    }
    return Math.min(timeoutMs, left);
  }

  private splitters(emit: (line: string) => void) {
    const max = this.s.maxLineLength ?? DEFAULT_MAX_LINE;
    return { stdout: new LineSplitter(max, emit), stderr: new LineSplitter(max, emit) };
  }
}

function overflowError(argv: readonly string[], max: number, res: ExecResult): PvepatchError {
  const mib = (n: number) => `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;
  const printed = res.bytes ? Math.max(res.bytes.stdout, res.bytes.stderr) : max;
  const ended = res.exitCode === null ? `was stopped (${res.signal ?? 'killed'})` : `exited ${res.exitCode}`;
  return new PvepatchError(
    'output-invalid',
    `unable to use the output of '${commandName(argv)}' in the guest - it printed ${mib(printed)}, more than the ${mib(max)} limit, and ${ended}; its output is not trusted`,
    { details: { exitCode: res.exitCode, bytes: res.bytes } },
  );
}
