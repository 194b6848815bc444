import { join } from 'node:path';
import { Low } from 'lowdb';
import { z } from 'zod';
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

  constructor(stateDir: string) {
    this.path = join(stateDir, 'rollouts.json');
    this.db = new Low<RolloutsFile>(new DurableJSONFile(this.path), { version: 1, rollouts: [] });
  }

  async start(): Promise<void> {
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

  /** Stores the rollout as it is now (the object is the store's own: callers change it, then save). */
  async save(r: Rollout): Promise<void> {
    r.updated_at = new Date().toISOString();
    await this.db.update((d) => {
      const i = d.rollouts.findIndex((x) => x.id === r.id);
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
