import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { z } from 'zod';
import { readChecked } from './checked-read.js';
import { DurableJSONFile } from './durable-json-file.js';
import { RunStore } from './runs.js';

export type RunState = 'running' | 'ok' | 'warnings' | 'error' | 'interrupted';

/** The outcome of one guest in a run. */
export type GuestOutcome =
  | 'updated'
  | 'up-to-date'
  | 'would-update'
  | 'skipped'
  | 'refused'
  | 'failed'
  | 'rolled-back'
  | 'interrupted';

export interface RunSummary {
  id: string;
  state: RunState;
  started_at: string;
  ended_at?: string;
  selector: string;
  dry_run: boolean;
  security_only?: boolean;
  /** The run's reboot and on-failure options, when it set them. */
  reboot?: 'never' | 'if-required' | 'always';
  on_failure?: 'keep' | 'rollback';
  exclude: string[];
  /** vmid → outcome, filled as guests finish. */
  guests: Record<string, GuestOutcome>;
  /** vmid → the status its reboot record ended in, for guests pvepatch rebooted or meant to. */
  reboots?: Record<string, RebootStatus>;
  error?: string;
  /** Path of the JSON report written when the run ended. */
  report?: string;
}

/** Holds a run added inside a guest, recorded before they are applied (crash recovery). */
export interface PendingHolds {
  run_id: string;
  vmid: number;
  node: string;
  /** How the guest was reached, so recovery reaches it the same way. */
  type: 'lxc' | 'qemu';
  transport: string;
  driver: string;
  holds: string[];
}

/**
 * A snapshot pvepatch asked for, recorded before the request is sent:
 * intended → requested (POST answered with a UPID) → created (task OK and listed) → deleting →
 * deleted; `absent` when it never came to exist. Recovery settles intended/requested/deleting
 * against the guest's snapshot list.
 */
export type SnapshotState = 'intended' | 'requested' | 'created' | 'deleting' | 'deleted' | 'absent';

export interface SnapshotRecord {
  run_id: string;
  vmid: number;
  node: string;
  type: 'lxc' | 'qemu';
  name: string;
  state: SnapshotState;
  /** How the guest was reached in the run that took it. */
  transport?: string;
  upid?: string;
  /** When the record last changed. */
  at: string;
}

export type RebootStatus = 'pending' | 'sent' | 'rebooting' | 'completed' | 'failed' | 'timeout';

/** A reboot pvepatch decided on, recorded before it is sent and at every step after. */
export interface RebootRecord {
  run_id: string;
  vmid: number;
  node: string;
  type: 'lxc' | 'qemu';
  status: RebootStatus;
  /** Why the guest is rebooted (policy and packages) or why it is not (yet). */
  reason: string;
  upid?: string;
  /** Seconds from the request to the guest answering again. */
  seconds?: number;
  error?: string;
  at: string;
}

export interface State {
  version: 3;
  pending_holds: PendingHolds[];
  snapshots: SnapshotRecord[];
  reboots: RebootRecord[];
}

/** Settled snapshot records (deleted, absent) kept for the audit trail. */
const MAX_SETTLED_SNAPSHOTS = 1000;

// What start-up checks in the file: the shape of every record it will act on. Older files (v1) lack
// `snapshots` and the holds' transport; those default to what v1 could only have done (pct, lxc).
// v1 and v2 kept the runs here; v3 keeps them in runs/ (moved there on the first start).
const StateFile = z.looseObject({
  version: z.union([z.literal(1), z.literal(2), z.literal(3)]),
  runs: z.array(z.looseObject({ id: z.string(), state: z.string(), started_at: z.string() })).optional(),
  pending_holds: z.array(
    z.looseObject({
      run_id: z.string(),
      vmid: z.number().int(),
      node: z.string(),
      driver: z.string(),
      holds: z.array(z.string()),
      type: z.enum(['lxc', 'qemu']).default('lxc'),
      transport: z.string().default('pct'),
    }),
  ),
  snapshots: z
    .array(
      z.looseObject({
        run_id: z.string(),
        vmid: z.number().int(),
        node: z.string(),
        type: z.enum(['lxc', 'qemu']),
        name: z.string(),
        state: z.enum(['intended', 'requested', 'created', 'deleting', 'deleted', 'absent']),
      }),
    )
    .default([]),
  reboots: z
    .array(
      z.looseObject({
        run_id: z.string(),
        vmid: z.number().int(),
        status: z.enum(['pending', 'sent', 'rebooting', 'completed', 'failed', 'timeout']),
      }),
    )
    .default([]),
});

function emptyState(): State {
  return { version: 3, pending_holds: [], snapshots: [], reboots: [] };
}

/** Reboot records kept for the audit trail. */
const MAX_REBOOTS = 1000;

/** The daemon's small state: lowdb with a durable adapter; the daemon is the only writer. */
export class StateStore {
  readonly db: Low<State>;
  readonly path: string;
  /** Every run, a file each (runs/). */
  readonly runs: RunStore;

  /** `logDir` holds the run logs and reports deleted with a run past `runsKeep`. */
  constructor(stateDir: string, opts: { logDir?: string; runsKeep?: () => number } = {}) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.path = join(stateDir, 'state.json');
    this.db = new Low<State>(new DurableJSONFile<State>(this.path), emptyState());
    this.runs = new RunStore(join(stateDir, 'runs'), opts.logDir ?? stateDir, opts.runsKeep ?? (() => 10_000));
  }

  /** Reads and checks the file; a damaged one stops the daemon with what to do, never silently resets. */
  async start(): Promise<void> {
    const data = await readChecked(
      this.db as Low<unknown>,
      this.path,
      StateFile,
      'move it aside to start with an empty state',
    );
    const { runs: legacy = [], ...rest } = data as unknown as State & { runs?: RunSummary[] };
    this.db.data = { ...rest, version: 3 };
    // runs first (written durably), then the state without them: a crash between repeats the move
    await this.runs.start(legacy);
    if (legacy.length > 0 || data.version !== 3) await this.db.write();
  }

  get data(): State {
    return this.db.data;
  }

  async update(fn: (s: State) => void): Promise<void> {
    await this.db.update(fn);
  }

  async upsertRun(run: RunSummary): Promise<void> {
    await this.runs.put(run);
  }

  async setPendingHolds(entry: PendingHolds): Promise<void> {
    await this.update((s) => {
      s.pending_holds = s.pending_holds.filter((p) => !(p.run_id === entry.run_id && p.vmid === entry.vmid));
      if (entry.holds.length > 0) s.pending_holds.push(entry);
    });
  }

  /** Adds or changes the reboot record of one guest in one run. */
  async recordReboot(rec: Omit<RebootRecord, 'at'>): Promise<void> {
    await this.update((s) => {
      const i = s.reboots.findIndex((r) => r.run_id === rec.run_id && r.vmid === rec.vmid);
      const next: RebootRecord = { ...rec, at: new Date().toISOString() };
      if (i >= 0) s.reboots[i] = next;
      else s.reboots.push(next);
      if (s.reboots.length > MAX_REBOOTS) s.reboots.splice(0, s.reboots.length - MAX_REBOOTS);
    });
  }

  rebootsOf(runId: string): RebootRecord[] {
    return this.data.reboots.filter((r) => r.run_id === runId);
  }

  /** Adds or changes the record of one snapshot (keyed by vmid, unique in a cluster, and name). */
  async recordSnapshot(rec: Omit<SnapshotRecord, 'at'>): Promise<void> {
    await this.update((s) => {
      const i = s.snapshots.findIndex((r) => r.vmid === rec.vmid && r.name === rec.name);
      const next: SnapshotRecord = { ...(i >= 0 ? s.snapshots[i] : {}), ...rec, at: new Date().toISOString() };
      if (i >= 0) s.snapshots[i] = next;
      else s.snapshots.push(next);
      const settled = s.snapshots.filter((r) => r.state === 'deleted' || r.state === 'absent');
      if (settled.length > MAX_SETTLED_SNAPSHOTS) {
        const drop = new Set(settled.slice(0, settled.length - MAX_SETTLED_SNAPSHOTS));
        s.snapshots = s.snapshots.filter((r) => !drop.has(r));
      }
    });
  }

  snapshotsOf(vmid: number): SnapshotRecord[] {
    return this.data.snapshots.filter((r) => r.vmid === vmid);
  }
}
