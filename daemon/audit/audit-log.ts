import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { escapeControls } from '../core/escape.js';

/** How a caller reached the daemon. */
export type AuditVia = 'socket' | 'https';

/** One mutating action: who, from where, what, on what, and how it ended. */
export interface AuditEntry {
  /** ISO 8601, UTC. */
  time: string;
  /** Proxmox userid (root@pam) or API token id (user@realm!token). */
  user: string;
  via: AuditVia;
  /** Remote address, or 'unix' for the socket. */
  source: string;
  /** e.g. run.start, run.cancel, agent.ensure, plan.refresh, settings.change */
  action: string;
  /** Selector, vmids or run id. */
  target: string;
  /** 'ok' or the error code. */
  outcome: string;
  detail?: string;
}

export type AuditInput = Omit<AuditEntry, 'time'> & { time?: string };

export interface AuditQuery {
  /** ISO time or Date; entries at or after it. */
  since?: string | Date;
  /** ISO time or Date; entries at or before it. */
  until?: string | Date;
  user?: string;
  /** Exact action, or a prefix ending in '.' or '.*' (`run.` / `run.*` matches run.start and run.cancel). */
  action?: string;
  limit?: number;
  /** Matching entries to skip, newest first. */
  start?: number;
}

export interface AuditOptions {
  /** Size past which audit.log is rotated (default 10 MiB). */
  maxBytes?: number;
  /** Rotated files kept: audit.log.1 .. audit.log.<keep> (default 5). */
  keep?: number;
  /** Skip the fsync after each entry (tests only). */
  noSync?: boolean;
}

export const AUDIT_FILE = 'audit.log';
export const DEFAULT_AUDIT_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_AUDIT_KEEP = 5;
export const MAX_AUDIT_READ_LIMIT = 1000;

/** Caps per field (characters, after escaping). */
const CAPS = { user: 256, via: 16, source: 256, action: 64, target: 1024, outcome: 64, detail: 2048 } as const;

/** A string safe for one JSON line and a terminal: control characters escaped, length capped. */
export function boundField(value: unknown, cap: number): string {
  const s = escapeControls(typeof value === 'string' ? value : String(value ?? ''));
  if (s.length <= cap) return s;
  // do not split a surrogate pair
  let cut = cap - 1;
  const c = s.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  return `${s.slice(0, cut)}…`;
}

function sanitize(e: AuditInput): AuditEntry {
  const out: AuditEntry = {
    time: e.time ?? new Date().toISOString(),
    user: boundField(e.user, CAPS.user),
    via: e.via === 'https' ? 'https' : 'socket',
    source: boundField(e.source, CAPS.source),
    action: boundField(e.action, CAPS.action),
    target: boundField(e.target, CAPS.target),
    outcome: boundField(e.outcome, CAPS.outcome),
  };
  if (e.detail !== undefined && e.detail !== '') out.detail = boundField(e.detail, CAPS.detail);
  return out;
}

function timeOf(t: string | Date | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  if (Number.isNaN(ms)) throw new Error(`not a time: ${String(t)}`);
  return ms;
}

function actionMatcher(action: string | undefined): (a: string) => boolean {
  if (!action) return () => true;
  if (action.endsWith('.*')) {
    const p = action.slice(0, -1);
    return (a) => a.startsWith(p);
  }
  if (action.endsWith('.')) return (a) => a.startsWith(action);
  return (a) => a === action;
}

/**
 * The append-only audit log `<dir>/audit.log`: one JSON object per line, mode 0600, opened with
 * O_APPEND, each entry written with one write() and synced. Past maxBytes the file is rotated
 * (audit.log → .1 → … → .<keep>, the oldest dropped) and a new one opened; entries are written one
 * at a time, so rotation never races a write. Reads go newest first through the rotated files,
 * holding one file and the page asked for in memory.
 */
export class AuditLog {
  readonly dir: string;
  readonly path: string;
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly noSync: boolean;
  private fd: number | undefined;
  private size = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(dir: string, opts: AuditOptions = {}) {
    this.dir = dir;
    this.path = join(dir, AUDIT_FILE);
    this.maxBytes = Math.max(1024, opts.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES);
    this.keep = Math.max(1, Math.floor(opts.keep ?? DEFAULT_AUDIT_KEEP));
    this.noSync = opts.noSync ?? false;
  }

  /** Appends one entry (escaped and capped). Entries are written in the order record() was called. */
  record(entry: AuditInput): Promise<void> {
    const line = `${JSON.stringify(sanitize(entry))}\n`;
    const next = this.queue.then(() => this.append(line));
    this.queue = next.catch(() => {});
    return next;
  }

  /** Waits for the entries recorded so far to be written. */
  flush(): Promise<void> {
    return this.queue;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    if (this.fd === undefined) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.fd = openSync(this.path, 'a', 0o600);
      this.size = fstatSync(this.fd).size;
      // a line a crash cut short is ended, so the next entry starts a line of its own
      if (this.size > 0) {
        const last = Buffer.alloc(1);
        const r = openSync(this.path, 'r');
        try {
          readSync(r, last, 0, 1, this.size - 1);
        } finally {
          closeSync(r);
        }
        if (last[0] !== 0x0a) this.size += writeSync(this.fd, '\n');
      }
    }
    return this.fd;
  }

  private append(line: string): void {
    const buf = Buffer.from(line, 'utf8');
    let fd = this.open();
    if (this.size > 0 && this.size + buf.length > this.maxBytes) {
      this.rotate();
      fd = this.open();
    }
    writeSync(fd, buf);
    this.size += buf.length;
    if (!this.noSync) fsyncSync(fd);
  }

  private rotate(): void {
    this.close();
    for (let i = this.keep - 1; i >= 1; i--) {
      try {
        renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    renameSync(this.path, `${this.path}.1`);
    try {
      const d = openSync(this.dir, 'r');
      try {
        fsyncSync(d);
      } finally {
        closeSync(d);
      }
    } catch {
      // a directory that cannot be synced (some filesystems) still holds the renames
    }
  }

  /** Matching entries newest first: `total` of them, `entries` the page [start, start+limit). */
  read(q: AuditQuery = {}): { total: number; entries: AuditEntry[] } {
    const since = timeOf(q.since);
    const until = timeOf(q.until);
    const limit = Math.min(Math.max(0, Math.floor(q.limit ?? 100)), MAX_AUDIT_READ_LIMIT);
    const start = Math.max(0, Math.floor(q.start ?? 0));
    const matchAction = actionMatcher(q.action);
    const entries: AuditEntry[] = [];
    let total = 0;
    const files = [this.path, ...Array.from({ length: this.keep }, (_, i) => `${this.path}.${i + 1}`)];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const lines = text.split('\n');
      for (let i = lines.length - 1; i >= 0; i--) {
        const line = lines[i]!;
        const e = parseLine(line);
        if (!e) continue;
        const t = Date.parse(e.time);
        if (since !== undefined && !(t >= since)) continue;
        if (until !== undefined && !(t <= until)) continue;
        if (q.user && e.user !== q.user) continue;
        if (!matchAction(e.action)) continue;
        if (total >= start && entries.length < limit) entries.push(e);
        total++;
      }
    }
    return { total, entries };
  }
}

function parseLine(line: string): AuditEntry | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(line) as AuditEntry;
    if (typeof v !== 'object' || v === null || typeof v.time !== 'string' || typeof v.action !== 'string') {
      return undefined;
    }
    return v;
  } catch {
    // a line cut by a crash mid-write
    return undefined;
  }
}
