import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Low } from 'lowdb';
import { z } from 'zod';
import { openDb, type SharedDbOptions, SharedLow } from '../cluster/shared-db.js';
import { PvepatchError } from '../core/errors.js';
import type { GuestPlan } from '../engine/types.js';
import { readChecked } from '../store/checked-read.js';
import { DurableJSONFile } from '../store/durable-json-file.js';
import type { SavedPlan } from './types.js';

interface PlansFile {
  version: 1;
  plans: SavedPlan[];
}

const KEEP = 500;

const FileShape = z.looseObject({
  version: z.literal(1),
  plans: z.array(
    z.looseObject({
      id: z.string(),
      state: z.enum(['saved', 'approved']),
      guests: z.array(
        z.looseObject({ vmid: z.number().int(), packages: z.array(z.looseObject({ package: z.string() })) }),
      ),
    }),
  ),
});

/** Saved plans in `<state_dir>/plans.json`; approving one records who and when. */
export class PlanStore {
  readonly path: string;
  private readonly db: Low<PlansFile>;

  private readonly prepare: () => Promise<void>;

  /** `shared`: cluster mode, the file lives in `<cluster_dir>/pvepatch/` and any node may change it. */
  constructor(stateDir: string, shared?: SharedDbOptions) {
    const o = openDb<PlansFile>(
      join(stateDir, 'plans.json'),
      { version: 1, plans: [] },
      shared,
      (p) => new DurableJSONFile(p),
      // pmxcfs keeps 1 MiB a file: the oldest plans already used go first, then the oldest unapproved
      (d) => {
        let i = d.plans.findIndex((x) => x.runs.length > 0);
        if (i < 0) i = d.plans.findIndex((x) => x.state === 'saved');
        if (i >= 0) d.plans.splice(i, 1);
        return i >= 0;
      },
    );
    ({ db: this.db, path: this.path, prepare: this.prepare } = o);
  }

  /** Another node's change, read in (cluster mode; false when nothing changed or not shared). */
  async refresh(): Promise<boolean> {
    return this.db instanceof SharedLow ? this.db.refresh() : false;
  }

  async start(): Promise<void> {
    await this.prepare();
    await readChecked(this.db as Low<unknown>, this.path, FileShape, 'move it aside');
  }

  list(): SavedPlan[] {
    return [...this.db.data.plans].reverse();
  }

  get(id: string): SavedPlan {
    const p = this.db.data.plans.find((x) => x.id === id);
    if (!p) throw new PvepatchError('not-found', `no saved plan '${id}' - see 'pvepatch plan list'`);
    return p;
  }

  /** Saves the guests that have updates, with every package version; nothing else of the plan. */
  async save(
    selector: string[],
    plans: readonly GuestPlan[],
    user: string,
    from: { schedule?: string } = {},
  ): Promise<SavedPlan> {
    const guests = plans
      .filter((p) => !p.skip_reason && p.packages.length > 0)
      .map((p) => ({
        vmid: p.vmid,
        name: p.name,
        driver: p.driver,
        packages: p.packages.map((u) => ({
          package: u.package,
          current_version: u.current_version,
          new_version: u.new_version,
        })),
      }));
    if (guests.length === 0)
      throw new PvepatchError('input-invalid', 'nothing to save - no selected guest has updates pending');
    const now = new Date().toISOString();
    const plan: SavedPlan = {
      id: `plan-${now.slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`,
      selector,
      state: 'saved',
      created_by: user,
      created_at: now,
      guests,
      ...(from.schedule ? { schedule: from.schedule } : {}),
      runs: [],
    };
    await this.db.update((d) => {
      // a schedule's newer plan supersedes its older ones still waiting for approval
      if (from.schedule) d.plans = d.plans.filter((x) => x.schedule !== from.schedule || x.state !== 'saved');
      d.plans.push(plan);
      if (d.plans.length > KEEP) d.plans.splice(0, d.plans.length - KEEP);
    });
    return plan;
  }

  /** Approval by someone else than its author (root@pam may approve its own: it could run anything anyway). */
  async approve(id: string, user: string): Promise<SavedPlan> {
    const p = this.get(id);
    if (p.state === 'approved')
      throw new PvepatchError(
        'input-invalid',
        `plan '${id}' is already approved (by ${p.approved_by} at ${p.approved_at})`,
      );
    if (p.created_by === user && user !== 'root@pam')
      throw new PvepatchError(
        'forbidden',
        `permission denied - plan '${id}' must be approved by someone else than its author ${user}`,
      );
    const approved_at = new Date().toISOString();
    // on the plan as stored now (in cluster mode another node may have changed the file)
    await this.db.update((d) => {
      const x = d.plans.find((y) => y.id === id);
      if (x) Object.assign(x, { state: 'approved', approved_by: user, approved_at });
    });
    return this.get(id);
  }

  /** The newest approved plan a schedule saved that no run has installed yet. */
  approvedFor(schedule: string): SavedPlan | undefined {
    return this.list().find((p) => p.schedule === schedule && p.state === 'approved' && p.runs.length === 0);
  }

  async usedBy(id: string, runId: string): Promise<void> {
    this.get(id);
    await this.db.update((d) => {
      d.plans.find((x) => x.id === id)?.runs.push(runId);
    });
  }

  async remove(id: string): Promise<SavedPlan> {
    const p = this.get(id);
    await this.db.update((d) => {
      d.plans = d.plans.filter((x) => x.id !== id);
    });
    return p;
  }
}
