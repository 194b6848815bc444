import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { DurableJSONFile } from './durable-json-file.js';

export type RunState = 'running' | 'ok' | 'warnings' | 'error' | 'interrupted';

/** The outcome of one guest in a run. */
export type GuestOutcome = 'updated' | 'up-to-date' | 'would-update' | 'skipped' | 'refused' | 'failed';

export interface RunSummary {
  id: string;
  state: RunState;
  started_at: string;
  ended_at?: string;
  selector: string;
  dry_run: boolean;
  security_only?: boolean;
  exclude: string[];
  /** vmid → outcome, filled as guests finish. */
  guests: Record<string, GuestOutcome>;
  error?: string;
  /** Path of the JSON report written when the run ended. */
  report?: string;
}

/** Holds a run added inside a guest, recorded before they are applied (crash recovery). */
export interface PendingHolds {
  run_id: string;
  vmid: number;
  node: string;
  driver: string;
  holds: string[];
}

export interface State {
  version: 1;
  runs: RunSummary[];
  pending_holds: PendingHolds[];
}

const MAX_RUNS = 500;

/** The daemon's small state: lowdb with a durable adapter; the daemon is the only writer. */
export class StateStore {
  readonly db: Low<State>;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.db = new Low<State>(new DurableJSONFile<State>(join(stateDir, 'state.json')), {
      version: 1,
      runs: [],
      pending_holds: [],
    });
  }

  async start(): Promise<void> {
    await this.db.read();
  }

  get data(): State {
    return this.db.data;
  }

  async update(fn: (s: State) => void): Promise<void> {
    await this.db.update(fn);
  }

  async upsertRun(run: RunSummary): Promise<void> {
    await this.update((s) => {
      const i = s.runs.findIndex((r) => r.id === run.id);
      if (i >= 0) s.runs[i] = run;
      else s.runs.push(run);
      if (s.runs.length > MAX_RUNS) s.runs.splice(0, s.runs.length - MAX_RUNS);
    });
  }

  async setPendingHolds(entry: PendingHolds): Promise<void> {
    await this.update((s) => {
      s.pending_holds = s.pending_holds.filter((p) => !(p.run_id === entry.run_id && p.vmid === entry.vmid));
      if (entry.holds.length > 0) s.pending_holds.push(entry);
    });
  }
}
