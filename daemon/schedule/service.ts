import { join } from 'node:path';
import type { Low } from 'lowdb';
import { z } from 'zod';
import type { PlanStore } from '../approvals/store.js';
import { openDb, type SharedDbOptions, SharedLow } from '../cluster/shared-db.js';
import { errorMessage, PvepatchError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Engine } from '../engine/engine.js';
import type { GuestPlan, PlanRequest } from '../engine/types.js';
import { updatesAvailableNotification } from '../notify/from-engine.js';
import type { Notification } from '../notify/types.js';
import type { RolloutManager } from '../rollouts/manager.js';
import { RolloutPolicy, rolloutOptions } from '../rollouts/options.js';
import { readChecked } from '../store/checked-read.js';
import { DurableJSONFile } from '../store/durable-json-file.js';
import { nextOccurrences, nodeTimeZone } from './cron.js';
import { assertNoOverlap } from './overlap.js';
import { Scheduler } from './scheduler.js';
import { ScheduleDefInput, ScheduleStateInput } from './schema.js';
import type { FireInfo, MissedRun, ScheduleDef, ScheduleState } from './types.js';

/** What a `report` schedule found the last time it ran. */
export interface ScheduleReport {
  at: string;
  guests: number;
  with_updates: number;
  updates: number;
  security_updates: number;
  skipped: number;
}

interface SchedulesFile {
  version: 1;
  schedules: ScheduleDef[];
  states: Record<string, ScheduleState>;
  reports: Record<string, ScheduleReport>;
  /** The rollouts `apply` schedules started, newest last (id per schedule). */
  rollouts: Record<string, string[]>;
  /** The plan each `require_approval` schedule saved last, waiting for approval. */
  awaiting: Record<string, string>;
}

const FileShape = z.looseObject({
  version: z.literal(1),
  schedules: z.array(z.unknown()),
  states: z.record(z.string(), ScheduleStateInput).default({}),
  reports: z.record(z.string(), z.unknown()).default({}),
  rollouts: z.record(z.string(), z.array(z.string())).default({}),
  awaiting: z.record(z.string(), z.string()).default({}),
});

/** What the API takes to create a schedule (id, cron, selector, mode, window, rollout policy). */
export const ScheduleCreate = z.strictObject({
  id: z.string(),
  cron: z.string(),
  tz: z.string().optional(),
  selector: z.array(z.string()),
  mode: z.enum(['report', 'apply']),
  window_minutes: z.number().int(),
  enabled: z.boolean().default(true),
  rollout: RolloutPolicy.optional(),
  require_approval: z.boolean().optional(),
});
export const ScheduleChange = z.strictObject({
  cron: z.string().optional(),
  tz: z.string().optional(),
  selector: z.array(z.string()).optional(),
  mode: z.enum(['report', 'apply']).optional(),
  window_minutes: z.number().int().optional(),
  enabled: z.boolean().optional(),
  rollout: RolloutPolicy.optional(),
  require_approval: z.boolean().optional(),
});

export type ScheduleView = ScheduleDef & {
  state: ScheduleState;
  next: string[];
  last_report?: ScheduleReport;
  rollouts: string[];
  /** `require_approval`: the plan saved for approval that its next window installs once approved. */
  awaiting_approval?: string;
};

/**
 * The daemon's schedules: stored in `<state_dir>/schedules.json` with what each did (fired, missed,
 * its last report, the rollouts it started), armed in a Scheduler that is rebuilt on every change.
 * `report` plans the selected guests and records the counts; `apply` starts a rollout with the
 * schedule's policy that starts no group after the window's end.
 */
export class ScheduleService {
  readonly path: string;
  private readonly db: Low<SchedulesFile>;
  private scheduler: Scheduler | undefined;
  private stopped = false;

  constructor(
    stateDir: string,
    private readonly engine: Engine,
    private readonly rollouts: RolloutManager,
    private readonly logger: Logger,
    private readonly plans?: PlanStore,
    private readonly notify?: (n: Notification | undefined) => void,
    private readonly node = '',
    shared?: SharedDbOptions,
    /** Cluster mode: plans every node's guests (report and approval schedules cover the cluster). */
    private readonly planner?: (req: PlanRequest) => Promise<GuestPlan[]>,
  ) {
    const o = openDb<SchedulesFile>(
      join(stateDir, 'schedules.json'),
      { version: 1, schedules: [], states: {}, reports: {}, rollouts: {}, awaiting: {} },
      shared,
      (p) => new DurableJSONFile(p),
    );
    ({ db: this.db, path: this.path, prepare: this.prepare } = o);
  }

  private readonly prepare: () => Promise<void>;

  private plan(req: PlanRequest): Promise<GuestPlan[]> {
    return this.planner ? this.planner(req) : this.engine.plan(req);
  }

  /**
   * Cluster mode: another node's change read in; the jobs are armed again when this node runs
   * them (the leader). True when something changed.
   */
  async refresh(): Promise<boolean> {
    if (!(this.db instanceof SharedLow) || !(await this.db.refresh())) return false;
    this.rearm();
    return true;
  }

  /** Cluster mode, on losing the leader lock: no job fires here until arm() is called again. */
  disarm(): void {
    this.active = false;
    this.scheduler?.stop();
    this.scheduler = undefined;
  }

  /** Reads and checks the file (before the daemon is ready); `arm()` then starts the jobs. */
  async start(): Promise<void> {
    await this.prepare();
    const file = await readChecked(this.db as Low<unknown>, this.path, FileShape, 'move it aside');
    const defs = z.array(ScheduleDefInput).safeParse(file.schedules);
    if (!defs.success) {
      const why = defs.error.issues
        .slice(0, 3)
        .map((i) => `schedules.${i.path.join('.')}: ${i.message}`)
        .join('; ');
      throw new PvepatchError('config-invalid', `unable to use ${this.path} - ${why}; move it aside`);
    }
    this.db.data = { ...(file as unknown as SchedulesFile), schedules: defs.data };
  }

  stop(): void {
    this.stopped = true;
    this.scheduler?.stop();
    this.scheduler = undefined;
  }

  list(): ScheduleView[] {
    const d = this.db.data;
    return d.schedules.map((s) => this.view(s));
  }

  get(id: string): ScheduleView {
    const s = this.db.data.schedules.find((x) => x.id === id);
    if (!s) throw new PvepatchError('not-found', `no schedule '${id}' - see 'pvepatch schedule list'`);
    return this.view(s);
  }

  async create(input: unknown, user: string): Promise<ScheduleView> {
    if (this.stopped)
      throw new PvepatchError('daemon-unavailable', 'unable to change schedules - the daemon is stopping');
    const b = ScheduleCreate.parse(input);
    if (this.db.data.schedules.some((s) => s.id === b.id))
      throw new PvepatchError('input-invalid', `unable to create schedule '${b.id}' - one with that id exists`);
    const def = this.check({ ...b, created_by: user, created_at: new Date().toISOString() });
    await this.db.update((d) => {
      d.schedules.push(def);
    });
    this.rearm();
    return this.view(def);
  }

  async update(id: string, input: unknown): Promise<ScheduleView> {
    const change = ScheduleChange.parse(input);
    const current = this.get(id);
    const { state: _s, next: _n, last_report: _r, rollouts: _o, ...def } = current;
    const next = this.check({ ...def, ...change });
    await this.db.update((d) => {
      d.schedules = d.schedules.map((s) => (s.id === id ? next : s));
    });
    this.rearm();
    return this.view(next);
  }

  async remove(id: string): Promise<ScheduleView> {
    const gone = this.get(id);
    await this.db.update((d) => {
      d.schedules = d.schedules.filter((s) => s.id !== id);
      delete d.states[id];
      delete d.reports[id];
      delete d.awaiting[id];
    });
    this.rearm();
    return gone;
  }

  /**
   * Runs a schedule now, as if it fired: in a window of its length from now, with its mode, policy
   * and approval rule; its own occurrences are unaffected. Returns once the rollout (or report, or
   * plan for approval) is made.
   */
  async runNow(id: string, user: string): Promise<ScheduleView & { ran: string }> {
    if (this.stopped)
      throw new PvepatchError('daemon-unavailable', 'unable to run the schedule - the daemon is stopping');
    const def = this.get(id);
    const previous = def.mode === 'apply' ? this.runningRollout(id) : undefined;
    if (previous)
      throw new PvepatchError(
        'input-invalid',
        `unable to run schedule '${id}' - its last rollout ${previous} still runs ('pvepatch rollout show ${previous}')`,
      );
    const now = new Date();
    this.logger.info(`schedule '${id}' run now by ${user}`);
    const window_end = new Date(now.getTime() + def.window_minutes * 60_000);
    const ran = await this.act(def, { scheduled_for: now, window_end, late_by_ms: 0 });
    return { ...this.get(id), ran };
  }

  /** Validated as stored, refused when another enabled schedule targets the same guests; the rollout policy checked. */
  private check(candidate: Record<string, unknown>): ScheduleDef {
    const def = ScheduleDefInput.parse(candidate) as ScheduleDef;
    if (def.mode === 'apply') def.rollout = RolloutPolicy.parse(def.rollout ?? {});
    else if (def.rollout !== undefined)
      throw new PvepatchError('input-invalid', `invalid schedule '${def.id}' - a rollout policy needs mode apply`);
    if (def.require_approval && def.mode !== 'apply')
      throw new PvepatchError('input-invalid', `invalid schedule '${def.id}' - require_approval needs mode apply`);
    if (def.require_approval && !this.plans)
      throw new PvepatchError('input-invalid', `invalid schedule '${def.id}' - this daemon keeps no saved plans`);
    assertNoOverlap(
      this.db.data.schedules.filter((s) => s.id !== def.id),
      def,
    );
    return def;
  }

  private view(def: ScheduleDef): ScheduleView {
    const d = this.db.data;
    let next: string[] = [];
    if (def.enabled)
      next = nextOccurrences(def.cron, new Date(), 5, def.tz ?? nodeTimeZone()).map((t) => t.toISOString());
    return {
      ...def,
      state: this.scheduler?.state(def.id) ?? d.states[def.id] ?? { missed: [] },
      next,
      ...(d.reports[def.id] ? { last_report: d.reports[def.id] } : {}),
      rollouts: d.rollouts[def.id] ?? [],
      ...(this.awaitingPlan(def.id) ? { awaiting_approval: d.awaiting[def.id] } : {}),
    };
  }

  /** Whether the plan the schedule saved last is still there and not yet approved. */
  private awaitingPlan(id: string): boolean {
    const planId = this.db.data.awaiting[id];
    if (!planId || !this.plans) return false;
    return this.plans.list().some((p) => p.id === planId && p.state === 'saved');
  }

  /** Whether this daemon fires the jobs (always, except on a cluster node that is not the leader). */
  private active = false;

  /** Starts firing the jobs here (at start; in cluster mode when this node becomes the leader). */
  arm(): void {
    this.active = true;
    this.rearm();
  }

  /** (Re)builds the scheduler from the stored schedules, carrying every schedule's state over. */
  private rearm(): void {
    if (this.stopped || !this.active) return;
    const states = this.scheduler?.states() ?? this.db.data.states;
    this.scheduler?.stop();
    this.scheduler = new Scheduler(this.db.data.schedules, {
      onFire: (def, info) => this.fire(def, info),
      onMissed: (def, missed) => this.missed(def, missed),
      logger: this.logger,
    });
    this.scheduler.start(states);
  }

  private async saveState(id: string): Promise<void> {
    const state = this.scheduler?.state(id);
    if (!state) return;
    await this.db.update((d) => {
      d.states[id] = state;
    });
  }

  private async fire(def: ScheduleDef, info: FireInfo): Promise<void> {
    await this.saveState(def.id);
    const late = info.late_by_ms > 1000 ? ` (${Math.round(info.late_by_ms / 1000)} s late)` : '';
    this.logger.info(
      `schedule '${def.id}' fired for ${info.scheduled_for.toISOString()}${late}: ${def.mode} ${def.selector.join(' ')} until ${info.window_end.toISOString()}`,
    );
    await this.act(def, info);
  }

  /** What a schedule does when it fires: report, or apply (an approved plan where it needs one). */
  private async act(def: ScheduleDef, info: FireInfo): Promise<string> {
    const meta = { trigger: 'schedule' as const, user: def.created_by };
    if (def.mode === 'report') {
      const plans = await this.plan({ selector: def.selector, exclude: [], dry_run: true });
      const report: ScheduleReport = {
        at: new Date().toISOString(),
        guests: plans.length,
        with_updates: plans.filter((p) => p.updates_available > 0).length,
        updates: plans.reduce((a, p) => a + p.updates_available, 0),
        security_updates: plans.reduce((a, p) => a + p.security_updates, 0),
        skipped: plans.filter((p) => p.skip_reason).length,
      };
      await this.db.update((d) => {
        d.reports[def.id] = report;
      });
      this.notify?.(updatesAvailableNotification(def.id, plans, this.node, report.at));
      return this.said(
        `schedule '${def.id}': ${report.with_updates} of ${report.guests} guest(s) have ${report.updates} update(s), ${report.security_updates} for security`,
      );
    }
    const previous = this.runningRollout(def.id);
    if (previous)
      return this.said(`schedule '${def.id}' did not start a rollout: its last one, ${previous}, still runs`, 'warn');
    const policy = RolloutPolicy.parse(def.rollout ?? {});
    let plan: string | undefined;
    if (def.require_approval) {
      plan = this.plans?.approvedFor(def.id)?.id;
      if (!plan) return this.said(await this.saveForApproval(def, policy), 'warn');
    }
    const ro = await this.rollouts.create(rolloutOptions(policy, def.selector, info.window_end, plan), meta);
    await this.db.update((d) => {
      d.rollouts[def.id] = [...(d.rollouts[def.id] ?? []), ro.id].slice(-50);
    });
    return this.said(`schedule '${def.id}' started rollout ${ro.id}${plan ? ` with approved plan ${plan}` : ''}`);
  }

  private said(line: string, level: 'info' | 'warn' = 'info'): string {
    this.logger[level](line);
    return line;
  }

  /** The rollout this schedule started last when it still runs. */
  private runningRollout(id: string): string | undefined {
    const last = this.db.data.rollouts[id]?.at(-1);
    const previous = last ? this.rollouts.store.list().find((r) => r.id === last) : undefined;
    return previous?.state === 'running' ? previous.id : undefined;
  }

  /**
   * `require_approval` with no approved plan of its own: plans the selected guests now and saves
   * that for approval (superseding its older unapproved one); the next window installs it once
   * someone approved it.
   */
  private async saveForApproval(def: ScheduleDef, policy: z.output<typeof RolloutPolicy>): Promise<string> {
    const planned = await this.plan({
      selector: def.selector,
      exclude: policy.exclude,
      security_only: policy.security_only,
      dry_run: true,
    });
    if (!planned.some((p) => !p.skip_reason && p.packages.length > 0))
      return `schedule '${def.id}': nothing to update, no plan saved for approval`;
    const saved = await this.plans!.save(def.selector, planned, def.created_by, { schedule: def.id });
    await this.db.update((d) => {
      d.awaiting[def.id] = saved.id;
    });
    const updates = saved.guests.reduce((a, g) => a + g.packages.length, 0);
    return `schedule '${def.id}' needs an approved plan and has none: saved plan ${saved.id} (${updates} update(s) on ${saved.guests.length} guest(s)) - 'pvepatch plan approve ${saved.id}', and its next window installs it`;
  }

  private missed(def: ScheduleDef, m: MissedRun): void {
    this.logger.warn(
      `schedule '${def.id}' missed ${m.count > 1 ? `${m.count} runs, the last` : 'its run'} at ${m.at}: ${m.reason}`,
    );
    void this.saveState(def.id).catch((err) =>
      this.logger.error(`unable to save schedule state - ${errorMessage(err)}`),
    );
  }
}
