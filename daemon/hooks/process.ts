/**
 * Runs one hook file: no shell, its own process group, cwd `/`, stdin empty, the given environment.
 * stdout keeps its first 64 KiB (the hook is not killed for more: the rest is read and dropped);
 * stderr is split into lines as it arrives and handed on, the first 256 KiB of it, while its last
 * non-empty line is always kept for a veto reason. At the timeout or on abort the whole group gets
 * SIGTERM, then SIGKILL 2 s later. A hook is done when its stdout and stderr close: a child that
 * keeps them open counts as the hook still running.
 */
import { StringDecoder } from 'node:string_decoder';
import { errorMessage } from '../core/errors.js';
import { type LiveProcess, spawnLive } from '../core/exec.js';
import { cut } from './text.js';

export const STDOUT_MAX = 64 * 1024;
export const STDERR_MAX = 256 * 1024;
const LINE_MAX = 4096;

export interface HookProcessResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  /** At most STDOUT_MAX bytes; after an overflow, only the complete lines before the cap. */
  stdout: string;
  stdoutOverflow: boolean;
  stderrOverflow: boolean;
  lastStderr: string;
  /** Why the file could not be started at all. */
  startError?: string;
}

/** The first `max` bytes of a stream; what follows is counted, not kept. */
class Head {
  private chunks: Buffer[] = [];
  private kept = 0;
  overflowed = false;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    if (this.kept + chunk.length > this.max) this.overflowed = true;
    const room = this.max - this.kept;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(part);
    this.kept += part.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks).toString('utf8');
    return this.overflowed ? all.slice(0, all.lastIndexOf('\n') + 1) : all;
  }
}

/** Splits a stream into lines (each cut to LINE_MAX); hands on those within `max` bytes. */
class Lines {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private bytes = 0;
  last = '';
  overflowed = false;
  constructor(
    private readonly max: number,
    private readonly onLine: (line: string) => void,
  ) {}
  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    const parts = (this.partial + this.decoder.write(chunk)).split('\n');
    this.partial = cut(parts.pop() ?? '', LINE_MAX);
    for (const line of parts) this.line(line);
  }
  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest !== '') this.line(rest);
  }
  private line(raw: string): void {
    const line = cut(raw.endsWith('\r') ? raw.slice(0, -1) : raw, LINE_MAX);
    if (line.trim() !== '') this.last = line;
    if (this.bytes > this.max) this.overflowed = true;
    if (!this.overflowed) this.onLine(line);
  }
}

export interface HookProcessOptions {
  env: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  onStderr: (line: string) => void;
}

export async function runHookProcess(file: string, o: HookProcessOptions): Promise<HookProcessResult> {
  const started = Date.now();
  const out = new Head(STDOUT_MAX);
  const err = new Lines(STDERR_MAX, o.onStderr);
  let timedOut = false;
  let aborted = false;
  let startError: string | undefined;
  let exit: { exitCode: number | null; signal: NodeJS.Signals | null } = { exitCode: null, signal: null };
  let child: LiveProcess | undefined;
  const onAbort = () => {
    aborted = true;
    child?.kill();
  };
  try {
    child = spawnLive([file], (s, c) => (s === 'stdout' ? out.push(c) : err.push(c)), { env: o.env, cwd: '/' });
    child.end();
    const timer = setTimeout(() => {
      timedOut = true;
      child?.kill();
    }, o.timeoutMs);
    if (o.signal?.aborted) onAbort();
    o.signal?.addEventListener('abort', onAbort);
    exit = await child.exited.finally(() => clearTimeout(timer));
  } catch (e) {
    startError = errorMessage(e);
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  err.end();
  return {
    ...exit,
    timedOut,
    aborted,
    durationMs: Date.now() - started,
    stdout: out.text(),
    stdoutOverflow: out.overflowed,
    stderrOverflow: err.overflowed,
    lastStderr: err.last,
    ...(startError === undefined ? {} : { startError }),
  };
}
