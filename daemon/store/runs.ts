import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PvepatchError } from '../core/errors.js';
import { writeDurably } from './durable-json-file.js';
import { runLogPath } from './run-log.js';
import type { GuestOutcome, RebootStatus, RunSummary } from './state.js';

/** One run in the list: what a page of runs shows, without the per-guest map. */
export interface RunRow {
  id: string;
  state: RunSummary['state'];
  started_at: string;
  ended_at?: string;
  selector: string;
  dry_run: boolean;
  security_only?: boolean;
  /** Guests that have an outcome so far. */
  guest_count: number;
  /** Guests per outcome. */
  counts: Partial<Record<GuestOutcome, number>>;
  /** Reboots per status (guests pvepatch rebooted or meant to). */
  reboots?: Partial<Record<RebootStatus, number>>;
  error?: string;
}

/** The newest run naming a guest, with the guest's outcome in it. */
export interface GuestLastRun {
  id: string;
  outcome: GuestOutcome;
  ended_at: string | null;
}

/** Runs remembered per guest for its history (the guest's Updates tab). */
export const GUEST_HISTORY = 20;

/** Least time between two writes of a running run (its guests' outcomes as they come). */
const RUNNING_WRITE_MS = 1000;

const SUCCESS: ReadonlySet<string> = new Set(['updated', 'up-to-date']);

/** The file name of one run: its id made safe for a file name. */
export function runFileName(id: string): string {
  return `${encodeURIComponent(id)}.json`;
}

function fileOf(dir: string, id: string): string {
  return join(dir, runFileName(id));
}

/**
 * Every run, one JSON file each under `<state_dir>/runs/`, so a run's write costs its own size and
 * not the whole history. Memory holds one small row per run (for paging), the summaries of running
 * runs, and per guest its last run, last success and last reboot status (for the fleet overview and
 * the metrics); a finished run's summary is read from its file when asked for. The oldest runs past
 * `keep` are deleted with their log and report.
 */
export class RunStore {
  readonly dir: string;
  /** How many runs to keep (read at each write: a config reload changes it). */
  private readonly keep: () => number;
  private readonly logDir: string;
  /** Oldest first. */
  private rows: RunRow[] = [];
  /** Counts changes to the indexes (answers built from them know when they are stale). */
  version = 0;
  private readonly byId = new Map<string, RunRow>();
  private readonly live = new Map<string, RunSummary>();
  private readonly lastRun = new Map<number, GuestLastRun & { started_at: string }>();
  private readonly lastOk = new Map<number, number>();
  /** Per guest, the ids of the newest runs that name it (at most GUEST_HISTORY, oldest first). */
  private readonly history = new Map<number, { id: string; outcome: GuestOutcome }[]>();
  private readonly reboots = new Map<number, { started_at: string; status: RebootStatus }>();
  private readonly queues = new Map<string, Promise<void>>();
  /** Running runs whose catch-up write is scheduled. */
  private readonly due = new Map<string, NodeJS.Timeout>();

  constructor(dir: string, logDir: string, keep: () => number) {
    this.dir = dir;
    this.logDir = logDir;
    this.keep = keep;
  }

  /**
   * Reads every run file, indexing each as it is read (never all summaries at once: 10,000 runs
   * would grow the heap by tens of MB that V8 keeps); `legacy` are runs from an older state.json,
   * written out once here.
   */
  async start(legacy: readonly RunSummary[] = []): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      this.index(readRun(join(this.dir, name)));
    }
    for (const run of legacy) {
      if (this.byId.has(run.id)) continue;
      await writeDurably(fileOf(this.dir, run.id), JSON.stringify(run));
      this.index(run);
    }
    this.rows.sort((a, b) =>
      a.started_at < b.started_at ? -1 : a.started_at > b.started_at ? 1 : a.id < b.id ? -1 : 1,
    );
    this.trim();
  }

  get size(): number {
    return this.rows.length;
  }

  /** A run's summary: the live one while it runs, else from its file. */
  get(id: string): RunSummary | undefined {
    const live = this.live.get(id);
    if (live) return live;
    if (!this.byId.has(id)) return undefined;
    try {
      return readRun(fileOf(this.dir, id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // trimmed meanwhile
      throw err;
    }
  }

  /** Newest first, `limit` rows from `start`, and how many there are. */
  page(start: number, limit: number): { total: number; rows: RunRow[] } {
    const total = this.rows.length;
    const out: RunRow[] = [];
    for (let i = total - 1 - start; i >= 0 && out.length < limit; i--) {
      const row = this.rows[i]!;
      const live = this.live.get(row.id);
      out.push(live ? rowOf(live) : row);
    }
    return { total, rows: out };
  }

  /** The newest runs that name a guest (at most GUEST_HISTORY), newest first, with its outcome in each. */
  historyOf(vmid: number): (RunRow & { outcome: GuestOutcome })[] {
    const out: (RunRow & { outcome: GuestOutcome })[] = [];
    for (const ref of [...(this.history.get(vmid) ?? [])].reverse()) {
      const row = this.byId.get(ref.id);
      if (!row) continue; // trimmed
      const live = this.live.get(ref.id);
      out.push({ ...(live ? rowOf(live) : row), outcome: ref.outcome });
    }
    return out;
  }

  /** The state of every kept run (for the metrics). */
  *states(): Iterable<string> {
    for (const r of this.rows) yield r.state;
  }

  /** Every row, oldest first (read-only). */
  all(): readonly RunRow[] {
    return this.rows;
  }

  /** Summaries of the runs still marked running (start-up settles them). */
  running(): RunSummary[] {
    return this.rows.filter((r) => r.state === 'running').flatMap((r) => this.get(r.id) ?? []);
  }

  lastRunOf(vmid: number): GuestLastRun | null {
    const l = this.lastRun.get(vmid);
    return l ? { id: l.id, outcome: l.outcome, ended_at: l.ended_at } : null;
  }

  rebootOf(vmid: number): RebootStatus | null {
    return this.reboots.get(vmid)?.status ?? null;
  }

  /** vmid → end (ms) of the last run, not a dry run, that updated it or found it up to date. */
  lastSuccess(): ReadonlyMap<number, number> {
    return this.lastOk;
  }

  /**
   * Records the run. Its first record and every one that is not 'running' (its end) are written at
   * once; while it runs, its file (and the indexes) catch up at most once every RUNNING_WRITE_MS, so
   * a run over N guests writes O(N) bytes per second, not O(N^2) in all. Nothing safety-relevant
   * waits on those: holds and snapshots have their own records, and a run found 'running' at start
   * is settled from its log.
   */
  async put(run: RunSummary): Promise<void> {
    if (run.state === 'running' && this.byId.has(run.id)) {
      this.live.set(run.id, run);
      if (!this.due.has(run.id)) {
        const timer = setTimeout(() => {
          this.due.delete(run.id);
          const now = this.live.get(run.id);
          // a failed catch-up write is retried by the next one; the run's end is always written
          if (now) this.write(now).catch(() => {});
        }, RUNNING_WRITE_MS);
        timer.unref();
        this.due.set(run.id, timer);
      }
      return;
    }
    clearTimeout(this.due.get(run.id));
    this.due.delete(run.id);
    await this.write(run);
    this.trim();
  }

  /** Indexes the run and writes its file (serialised per run, so the last write wins). */
  private write(run: RunSummary): Promise<void> {
    this.index(run);
    const text = JSON.stringify(run);
    const prev = this.queues.get(run.id) ?? Promise.resolve();
    const next = prev.then(() => writeDurably(fileOf(this.dir, run.id), text));
    const tail = next.catch(() => {});
    this.queues.set(run.id, tail);
    void tail.then(() => {
      if (this.queues.get(run.id) === tail) this.queues.delete(run.id);
    });
    return next;
  }

  private index(run: RunSummary): void {
    this.version++;
    const row = rowOf(run);
    const outcomes = Object.entries(run.guests ?? {});
    const old = this.byId.get(run.id);
    if (old) Object.assign(old, row);
    else {
      this.byId.set(run.id, row);
      this.rows.push(row);
    }
    if (run.state === 'running') this.live.set(run.id, run);
    else this.live.delete(run.id);
    const ended = run.ended_at ? Date.parse(run.ended_at) : Number.NaN;
    for (const [key, outcome] of outcomes) {
      const vmid = Number(key);
      const refs = this.history.get(vmid) ?? [];
      const ref = refs.find((r) => r.id === run.id);
      if (ref) ref.outcome = outcome;
      else {
        refs.push({ id: run.id, outcome });
        refs.sort((a, b) =>
          (this.byId.get(a.id)?.started_at ?? '').localeCompare(this.byId.get(b.id)?.started_at ?? ''),
        );
        if (refs.length > GUEST_HISTORY) refs.shift();
        this.history.set(vmid, refs);
      }
      const prev = this.lastRun.get(vmid);
      if (!prev || prev.started_at <= run.started_at)
        this.lastRun.set(vmid, { id: run.id, outcome, ended_at: run.ended_at ?? null, started_at: run.started_at });
      if (!run.dry_run && SUCCESS.has(outcome) && !Number.isNaN(ended) && ended > (this.lastOk.get(vmid) ?? -1))
        this.lastOk.set(vmid, ended);
    }
    for (const [key, status] of Object.entries(run.reboots ?? {})) {
      const vmid = Number(key);
      const prev = this.reboots.get(vmid);
      if (!prev || prev.started_at <= run.started_at) this.reboots.set(vmid, { started_at: run.started_at, status });
    }
  }

  /** Deletes the oldest finished runs past `keep`, with their log and report. */
  private trim(): void {
    let over = this.rows.length - this.keep();
    if (over <= 0) return;
    const drop = new Set<RunRow>();
    for (const row of this.rows) {
      if (over <= 0) break;
      if (row.state === 'running' || this.queues.has(row.id)) continue;
      drop.add(row);
      over--;
    }
    if (drop.size === 0) return;
    this.rows = this.rows.filter((r) => !drop.has(r));
    for (const row of drop) {
      this.byId.delete(row.id);
      for (const path of [
        fileOf(this.dir, row.id),
        runLogPath(this.logDir, row.id),
        join(this.logDir, `${row.id}.json`),
      ])
        rmSync(path, { force: true });
    }
  }
}

/** One buffer for every read at start: a Buffer per file (malloc'd) left the heap fragmented. */
const scratch = Buffer.alloc(64 * 1024);

function readText(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > scratch.length) return readFileSync(fd, 'utf8');
    let n = 0;
    for (let got = -1; got !== 0 && n < scratch.length; n += got)
      got = readSync(fd, scratch, n, scratch.length - n, null);
    return scratch.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

function rowOf(run: RunSummary): RunRow {
  const counts: RunRow['counts'] = {};
  let n = 0;
  for (const o of Object.values(run.guests ?? {})) {
    counts[o] = (counts[o] ?? 0) + 1;
    n++;
  }
  const reboots: RunRow['reboots'] = {};
  for (const s of Object.values(run.reboots ?? {})) reboots[s] = (reboots[s] ?? 0) + 1;
  return {
    id: run.id,
    state: run.state,
    started_at: run.started_at,
    ...(run.ended_at ? { ended_at: run.ended_at } : {}),
    selector: run.selector,
    dry_run: run.dry_run,
    ...(run.security_only !== undefined ? { security_only: run.security_only } : {}),
    guest_count: n,
    counts,
    ...(Object.keys(reboots).length > 0 ? { reboots } : {}),
    ...(run.error ? { error: run.error } : {}),
  };
}

function readRun(path: string): RunSummary {
  let run: RunSummary;
  try {
    run = JSON.parse(readText(path)) as RunSummary;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
    throw new PvepatchError(
      'config-invalid',
      `unable to read run record ${path} - ${(err as Error).message}; move it aside to start without it`,
    );
  }
  if (typeof run?.id !== 'string' || typeof run.state !== 'string' || typeof run.started_at !== 'string')
    throw new PvepatchError(
      'config-invalid',
      `unable to use run record ${path} - it lacks id, state or started_at; move it aside to start without it`,
    );
  run.guests ??= {};
  return run;
}
