import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PvepatchError } from '../core/errors.js';
import { safeLines } from '../core/escape.js';

/** One line of a run log, numbered from 1 like Proxmox task logs. */
export interface LogLine {
  n: number;
  t: string;
}

const FINAL = /^TASK (OK|WARNINGS: \d+|ERROR: .*)$/;

export const DEFAULT_RUN_LOG_MAX_BYTES = 64 * 1024 * 1024;
const FLUSH_MS = 50;
const FLUSH_BYTES = 64 * 1024;

export interface WriteOptions {
  /** Put before every line of the text (e.g. `<time> CT 101: `), so no line goes unattributed. */
  prefix?: string;
  /** Still written after the size cap (outcomes, the summary). */
  essential?: boolean;
  /** Whose text it is (a guest): each source gets an equal share of the cap, so one guest cannot crowd out another. */
  source?: string;
}

/**
 * The append-only log of one run. Its last line is the final state (`TASK OK`,
 * `TASK WARNINGS: n`, `TASK ERROR: msg`), so the file alone tells how a run ended. Every line is
 * written escaped (no control characters) with its prefix; past `maxBytes` — or, for one source
 * (a guest), past its equal share of it — only essential lines and the final line are written. Lines are gathered for up to FLUSH_MS (a guest printing a
 * million short lines costs a few writes, not a million), and the final line is written and
 * synced at once.
 */
export class RunLog {
  readonly path: string;
  private readonly maxBytes: number;
  private fd: number | undefined;
  private closed = false;
  private bytes = 0;
  private capped = false;
  private sourceQuota: number;
  private readonly sourceBytes = new Map<string, number>();
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(dir: string, runId: string, opts: { maxBytes?: number } = {}) {
    this.path = runLogPath(dir, runId);
    this.maxBytes = opts.maxBytes ?? DEFAULT_RUN_LOG_MAX_BYTES;
    this.sourceQuota = this.maxBytes;
  }

  /** How many sources share the cap (the run's guests). */
  setSources(count: number): void {
    this.sourceQuota = Math.floor(this.maxBytes / Math.max(1, count));
  }

  open(): void {
    this.fd = openSync(this.path, 'a', 0o600);
  }

  /** Whether a non-essential line (of this source) would still be written. */
  accepting(source?: string): boolean {
    if (this.capped || this.closed) return false;
    return source === undefined || (this.sourceBytes.get(source) ?? 0) < this.sourceQuota;
  }

  /** Appends text; after finish() (e.g. a forced stop closed the run) it is dropped. */
  write(text: string, opts: WriteOptions = {}): void {
    if (this.closed) return;
    if (this.fd === undefined) throw new Error('run log is not open');
    if (!opts.essential && !this.accepting(opts.source)) return;
    const prefix = opts.prefix ?? '';
    const out = safeLines(text)
      .map((l) => `${prefix}${l}\n`)
      .join('');
    const size = Buffer.byteLength(out);
    if (!opts.essential && this.bytes + size > this.maxBytes) {
      this.capped = true;
      this.append(
        `run log limit of ${kib(this.maxBytes)} reached - further output is left out (outcomes and the report are complete)\n`,
      );
      return;
    }
    if (!opts.essential && opts.source !== undefined) {
      const used = (this.sourceBytes.get(opts.source) ?? 0) + size;
      this.sourceBytes.set(opts.source, used);
      if (used > this.sourceQuota) {
        const at = new Date().toISOString();
        this.append(
          `${at} ${opts.source}: output limit of ${kib(this.sourceQuota)} for this guest in this log reached - further output is left out\n`,
        );
        return;
      }
    }
    this.append(out);
  }

  /** Writes the final line, syncs and closes. */
  finish(final: string): void {
    if (!FINAL.test(final)) throw new Error(`not a final task state: ${final}`);
    if (this.closed) return;
    this.write(final, { essential: true });
    this.flush();
    if (this.fd !== undefined) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.closed = true;
  }

  /** Writes what is gathered now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0 || this.fd === undefined) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    writeSync(this.fd, text);
  }

  private append(text: string): void {
    const size = Buffer.byteLength(text);
    this.bytes += size;
    this.pending.push(text);
    this.pendingBytes += size;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }
}

function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

export function runLogPath(dir: string, runId: string): string {
  return join(dir, `${runId.replace(/[^A-Za-z0-9:._-]/g, '_')}.log`);
}

export function readRunLog(dir: string, runId: string, start = 0, limit = 50_000): { total: number; lines: LogLine[] } {
  const path = runLogPath(dir, runId);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new PvepatchError('not-found', `no log for run '${runId}' - ${path} is missing`);
  }
  const all = text.split('\n');
  if (all.at(-1) === '') all.pop();
  const lines = all.slice(start, start + limit).map((t, i) => ({ n: start + i + 1, t }));
  return { total: all.length, lines };
}

/** The final state a log ends with, or undefined when the run never finished (crash). */
export function finalState(lines: readonly LogLine[]): string | undefined {
  const last = lines.at(-1)?.t;
  return last && FINAL.test(last) ? last : undefined;
}
