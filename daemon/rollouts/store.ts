import { join } from 'node:path';
import type { Low } from 'lowdb';
import { z } from 'zod';
import { openDb, type SharedDbOptions, SharedLow } from '../cluster/shared-db.js';
import { PvepatchError } from '../core/errors.js';
import { readChecked } from '../store/checked-read.js';
import { DurableJSONFile } from '../store/durable-json-file.js';
import type { Rollout } from './types.js';

interface RolloutsFile {
  version: 1;
  rollouts: Rollout[];
}

/** Finished rollouts kept (running and paused ones are always kept). */
const KEEP_FINISHED = 500;

const FileShape = z.looseObject({
  version: z.literal(1),
  rollouts: z.array(
    z.looseObject({
      id: z.string(),
      state: z.enum(['running', 'paused', 'halted', 'cancelled', 'completed']),
      group: z.number().int(),
      groups: z.number().int(),
      guests: z.array(z.looseObject({ vmid: z.number().int(), group: z.number().int() })),
    }),
  ),
});

/** Rollouts in `<state_dir>/rollouts.json` (lowdb, written durably at every step). */
export class RolloutStore {
  readonly path: string;
  private readonly db: Low<RolloutsFile>;

  private readonly prepare: () => Promise<void>;

  /** `shared`: cluster mode, the file lives in `<cluster_dir>/pvepatch/` and any node may change it. */
  constructor(stateDir: string, shared?: SharedDbOptions) {
    const o = openDb<RolloutsFile>(
      join(stateDir, 'rollouts.json'),
      { version: 1, rollouts: [] },
      shared,
      (p) => new DurableJSONFile(p),
      // pmxcfs keeps 1 MiB a file: the oldest finished rollouts go first
      (d) => {
        const i = d.rollouts.findIndex((x) => x.state !== 'running' && x.state !== 'paused');
        if (i >= 0) d.rollouts.splice(i, 1);
        return i >= 0;
      },
    );
    ({ db: this.db, path: this.path, prepare: this.prepare } = o);
  }

  /** Whether the file is shared by the cluster's nodes. */
  get shared(): boolean {
    return this.db instanceof SharedLow;
  }

  /** Another node's change, read in (cluster mode; false when nothing changed or not shared). */
  async refresh(): Promise<boolean> {
    return this.db instanceof SharedLow ? this.db.refresh() : false;
  }

  async start(): Promise<void> {
    await this.prepare();
    await readChecked(this.db as Low<unknown>, this.path, FileShape, 'move it aside');
  }

  list(): Rollout[] {
    return [...this.db.data.rollouts].reverse();
  }

  get(id: string): Rollout {
    const r = this.db.data.rollouts.find((x) => x.id === id);
    if (!r) throw new PvepatchError('not-found', `no rollout '${id}' - see 'pvepatch rollout list'`);
    return r;
  }

  /**
   * Changes a rollout as stored now (in cluster mode: as the file is on pmxcfs, under the cluster
   * lock) and returns it; fn may throw to change nothing. fn runs on a copy first and may run twice.
   */
  async update(id: string, fn: (r: Rollout) => void): Promise<Rollout> {
    // tried on a copy first: a step that changes nothing writes nothing (on pmxcfs every write,
    // and the lock around it, is a message to every node)
    const current = this.get(id);
    const trial = structuredClone(current);
    fn(trial);
    if (JSON.stringify(trial) === JSON.stringify(current)) return trial;
    let out: Rollout | undefined;
    await this.db.update((d) => {
      const r = d.rollouts.find((x) => x.id === id);
      if (!r) throw new PvepatchError('not-found', `no rollout '${id}' - see 'pvepatch rollout list'`);
      fn(r);
      r.updated_at = new Date().toISOString();
      out = r;
    });
    return structuredClone(out!);
  }

  /**
   * Stores the rollout as it is now (the object is the store's own: callers change it, then save).
   * A pause or cancel asked meanwhile on another node (cluster mode) is kept.
   */
  async save(r: Rollout): Promise<void> {
    r.updated_at = new Date().toISOString();
    await this.db.update((d) => {
      const i = d.rollouts.findIndex((x) => x.id === r.id);
      const asked = i >= 0 ? d.rollouts[i]!.request : undefined;
      if (asked && !r.request && r.state === 'running') r.request = asked;
      if (i >= 0) d.rollouts[i] = r;
      else d.rollouts.push(r);
      const finished = d.rollouts.filter((x) => x.state !== 'running' && x.state !== 'paused');
      if (finished.length > KEEP_FINISHED) {
        const drop = new Set(finished.slice(0, finished.length - KEEP_FINISHED));
        d.rollouts = d.rollouts.filter((x) => !drop.has(x));
      }
    });
  }
}
