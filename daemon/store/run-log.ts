import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
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

export interface WriteOptions {
  /** Put before every line of the text (e.g. `<time> CT 101: `), so no line goes unattributed. */
  prefix?: string;
  /** Still written after the size cap (outcomes, the summary). */
  essential?: boolean;
}

/**
 * The append-only log of one run. Its last line is the final state (`TASK OK`,
 * `TASK WARNINGS: n`, `TASK ERROR: msg`), so the file alone tells how a run ended. Every line is
 * written escaped (no control characters) with its prefix; past `maxBytes`, only essential lines
 * and the final line are written.
 */
export class RunLog {
  readonly path: string;
  private readonly maxBytes: number;
  private fd: number | undefined;
  private closed = false;
  private bytes = 0;
  private capped = false;

  constructor(dir: string, runId: string, opts: { maxBytes?: number } = {}) {
    this.path = runLogPath(dir, runId);
    this.maxBytes = opts.maxBytes ?? DEFAULT_RUN_LOG_MAX_BYTES;
  }

  open(): void {
    this.fd = openSync(this.path, 'a', 0o600);
  }

  /** Appends text; after finish() (e.g. a forced stop closed the run) it is dropped. */
  write(text: string, opts: WriteOptions = {}): void {
    if (this.closed) return;
    if (this.fd === undefined) throw new Error('run log is not open');
    if (this.capped && !opts.essential) return;
    const prefix = opts.prefix ?? '';
    const out = safeLines(text)
      .map((l) => `${prefix}${l}\n`)
      .join('');
    if (!opts.essential && this.bytes + Buffer.byteLength(out) > this.maxBytes) {
      this.capped = true;
      this.append(
        `run log limit of ${Math.round(this.maxBytes / 1024)} KiB reached - further output is left out (outcomes and the report are complete)\n`,
      );
      return;
    }
    this.append(out);
  }

  /** Writes the final line, syncs and closes. */
  finish(final: string): void {
    if (!FINAL.test(final)) throw new Error(`not a final task state: ${final}`);
    if (this.closed) return;
    this.write(final, { essential: true });
    if (this.fd !== undefined) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.closed = true;
  }

  private append(text: string): void {
    this.bytes += Buffer.byteLength(text);
    appendFileSync(this.fd!, text);
  }
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
