import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PvepatchError } from '../core/errors.js';

/** One line of a run log, numbered from 1 like Proxmox task logs. */
export interface LogLine {
  n: number;
  t: string;
}

const FINAL = /^TASK (OK|WARNINGS: \d+|ERROR: .*)$/;

/**
 * The append-only log of one run. Its last line is the final state (`TASK OK`,
 * `TASK WARNINGS: n`, `TASK ERROR: msg`), so the file alone tells how a run ended.
 */
export class RunLog {
  readonly path: string;
  private fd: number | undefined;

  constructor(dir: string, runId: string) {
    this.path = runLogPath(dir, runId);
  }

  open(): void {
    this.fd = openSync(this.path, 'a', 0o600);
  }

  write(line: string): void {
    if (this.fd === undefined) throw new Error('run log is not open');
    const text = line
      .replace(/\r/g, '')
      .split('\n')
      .filter((l, i, all) => l !== '' || i < all.length - 1)
      .map((l) => `${l}\n`)
      .join('');
    appendFileSync(this.fd, text);
  }

  /** Writes the final line, syncs and closes. */
  finish(final: string): void {
    if (!FINAL.test(final)) throw new Error(`not a final task state: ${final}`);
    this.write(final);
    if (this.fd !== undefined) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = undefined;
    }
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
