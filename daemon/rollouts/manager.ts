import { randomBytes } from 'node:crypto';
import { errorMessage, PvepatchError } from '../core/errors.js';
import { assertPackageNames } from '../core/validate.js';
import type { Authorize, Engine, RunMeta } from '../engine/engine.js';
import { resolveTargets } from '../engine/targets.js';
import type { EngineServices } from '../engine/types.js';
import { rolloutHaltedNotification } from '../notify/from-engine.js';
import { listGuests } from '../proxmox/inventory.js';
import { parseSelector, selectInOrder } from '../proxmox/selectors.js';
import { type ClusterRollouts, NO_QUORUM, rolloutView as view } from './cluster.js';
import { failures, groupGuests } from './groups.js';
import type { RolloutStore } from './store.js';
import { isDone, type Rollout, type RolloutOptions } from './types.js';

/** How often a rollout waiting for quorum looks again. */
const QUORUM_RETRY_MS = 2000;

/**
 * Drives rollouts: one run per group (the canary group first), each started when the one before
 * has ended; halts when failures pass the threshold, leaving the rest untouched. Every step is
 * saved first, so a daemon that stops mid-rollout finds it at start and shows it paused at the group
 * (and the guests in it) where it stopped; resume goes on from there.
 */
export class RolloutManager {
  private readonly pauseRequested = new Map<string, string>();
  private readonly driving = new Set<string>();

  constructor(
    private readonly svc: EngineServices,
    private readonly engine: Engine,
    readonly store: RolloutStore,
    private readonly log: (line: string) => void = () => {},
    /** Cluster mode: the leader drives rollouts from the shared file and every node executes its part. */
    private readonly cluster?: ClusterRollouts,
  ) {}

  /**
   * Rollouts left running by a stopped daemon are paused where they stopped (local, before READY).
   * In cluster mode they go on: the leader (this node again, or another) continues them.
   */
  async start(): Promise<void> {
    if (this.cluster) {
      await this.cluster.start();
      return;
    }
    for (const r of this.store.list().filter((x) => x.state === 'running')) {
      this.settleFromRuns(r);
      r.state = 'paused';
      r.note = `the daemon stopped while group ${r.group} of ${r.groups} ran; 'pvepatch rollout resume ${r.id}' goes on with the guests not yet done`;
      await this.store.save(r);
      this.log(`rollout ${r.id} paused at group ${r.group} (the daemon had stopped)`);
    }
  }

  async create(opts: RolloutOptions, meta: RunMeta, authorize: Authorize = (t) => t): Promise<Rollout> {
    assertPackageNames(opts.exclude);
    if (opts.batch < 1) throw new PvepatchError('input-invalid', 'invalid batch size - at least 1');
    const sel = parseSelector(opts.selector);
    const ordered = selectInOrder(sel, await listGuests(this.svc.client));
    // the caller's say now (privileges, skip reasons); each group's run checks its guests again
    let resolved = await resolveTargets(this.svc, opts.selector, opts, listGuests, { anyNode: !!this.cluster });
    if (opts.plan) {
      const saved = this.engine.approvedPlan(opts.plan);
      const inPlan = new Set(saved.guests.map((g) => g.vmid));
      resolved = resolved.filter((t) => inPlan.has(t.guest.vmid));
    }
    const targets = await authorize(resolved);
    const usable = new Set(targets.filter((t) => !t.skip_reason).map((t) => t.guest.vmid));
    const skipped = new Map(targets.filter((t) => t.skip_reason).map((t) => [t.guest.vmid, t.skip_reason!]));
    const guests = ordered.filter((g) => usable.has(g.vmid));
    if (guests.length === 0) {
      const why = [...skipped].map(([v, s]) => `${v}: ${s}`).join('; ');
      const none = opts.plan ? `no guest of plan '${opts.plan}' matches the selector` : 'the selector matches none';
      throw new PvepatchError('input-invalid', `no guest to roll out to - ${why || none}`);
    }
    const now = new Date().toISOString();
    const grouped = groupGuests(guests, opts);
    const r: Rollout = {
      id: `rollout-${now.slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`,
      state: 'running',
      options: opts,
      guests: [
        ...grouped,
        ...ordered
          .filter((g) => skipped.has(g.vmid))
          .map((g) => ({
            vmid: g.vmid,
            name: g.name,
            group: -1,
            outcome: 'skipped' as const,
            reason: skipped.get(g.vmid)!,
          })),
      ],
      group: 0,
      groups: Math.max(...grouped.map((g) => g.group)) + 1,
      runs: [],
      created_by: meta.user,
      created_at: now,
      updated_at: now,
      ...(this.cluster ? { meta: { trigger: meta.trigger, user: meta.user } } : {}),
    };
    await this.store.save(r);
    this.engine.events.emit(r.id, {
      type: 'rollout',
      rollout: view(r),
      what: `started: ${grouped.length} guests in ${r.groups} groups`,
    });
    if (!this.cluster) this.drive(r.id, meta);
    return structuredClone(r);
  }

  /** The rollout's current group finishes; the next does not start. */
  async pause(id: string, user: string): Promise<Rollout> {
    if (this.cluster) return this.ask(id, 'pause', user);
    const r = this.store.get(id);
    if (r.state !== 'running')
      throw new PvepatchError('input-invalid', `unable to pause rollout '${id}' - it is ${r.state}`);
    this.pauseRequested.set(id, user);
    if (!this.driving.has(id)) await this.stopAs(r, 'paused', `paused by ${user}`);
    else {
      r.note = `pause requested by ${user}: group ${r.group + 1} finishes first`;
      await this.store.save(r);
    }
    return structuredClone(r);
  }

  async resume(id: string, meta: RunMeta): Promise<Rollout> {
    if (this.cluster) {
      const r = await this.store.update(id, (r) => {
        if (r.state !== 'paused')
          throw new PvepatchError('input-invalid', `unable to resume rollout '${id}' - it is ${r.state}`);
        r.state = 'running';
        delete r.note;
        delete r.request;
        delete r.options.not_after;
      });
      this.log(`rollout ${id} resumed by ${meta.user}`);
      return r;
    }
    const r = this.store.get(id);
    if (r.state !== 'paused')
      throw new PvepatchError('input-invalid', `unable to resume rollout '${id}' - it is ${r.state}`);
    if (this.driving.has(id))
      throw new PvepatchError('input-invalid', `unable to resume rollout '${id}' - its current group is still running`);
    r.state = 'running';
    delete r.note;
    delete r.options.not_after; // resumed by hand: the admin chose to go on now
    await this.store.save(r);
    this.engine.events.reset(id);
    this.engine.events.emit(id, { type: 'rollout', rollout: view(r), what: `resumed by ${meta.user}` });
    this.drive(id, meta);
    return structuredClone(r);
  }

  /** Cancels the group's run (guests in flight finish their stage) and starts no other. */
  async cancel(id: string, user: string): Promise<Rollout> {
    if (this.cluster) return this.ask(id, 'cancel', user);
    const r = this.store.get(id);
    if (r.state !== 'running' && r.state !== 'paused')
      throw new PvepatchError('input-invalid', `unable to cancel rollout '${id}' - it is ${r.state}`);
    this.pauseRequested.set(id, `cancel:${user}`);
    const current = r.runs.at(-1);
    if (this.driving.has(id) && current) {
      try {
        this.engine.cancel(current, user);
      } catch {
        // the run has just ended
      }
    } else await this.stopAs(r, 'cancelled', `cancelled by ${user}`);
    return structuredClone(r);
  }

  get(id: string): Rollout {
    return this.store.get(id);
  }

  /**
   * Cluster mode: a pause or cancel is written into the shared rollout and carried out by the
   * leader at its next step (the group running finishes; a cancel also cancels the nodes' runs). A
   * paused rollout is cancelled at once.
   */
  private async ask(id: string, kind: 'pause' | 'cancel', user: string): Promise<Rollout> {
    return this.store.update(id, (r) => {
      const ok = r.state === 'running' || (kind === 'cancel' && r.state === 'paused');
      if (!ok) throw new PvepatchError('input-invalid', `unable to ${kind} rollout '${id}' - it is ${r.state}`);
      if (r.state === 'paused') {
        r.state = 'cancelled';
        r.note = `cancelled by ${user}`;
        r.ended_at = new Date().toISOString();
        return;
      }
      r.request = { kind, user, at: new Date().toISOString() };
      r.note = `${kind} requested by ${user}: group ${r.group + 1} finishes first`;
    });
  }

  private drive(id: string, meta: RunMeta): void {
    this.driving.add(id);
    this.loop(id, meta)
      .catch(async (err) => {
        const r = this.store.get(id);
        this.log(`rollout ${id} stopped - ${errorMessage(err)}`);
        await this.stopAs(r, 'paused', `stopped by an error - ${errorMessage(err)}; fix it, then resume`);
      })
      .finally(() => this.driving.delete(id));
  }

  /** Rollouts waiting for quorum (logged once per wait). */
  private readonly waitingQuorum = new Map<string, boolean>();

  private async loop(id: string, meta: RunMeta): Promise<void> {
    for (;;) {
      const r = this.store.get(id);
      if (r.state !== 'running') return;
      const asked = this.pauseRequested.get(id);
      if (asked !== undefined) {
        this.pauseRequested.delete(id);
        const cancel = asked.startsWith('cancel:');
        await this.stopAs(
          r,
          cancel ? 'cancelled' : 'paused',
          cancel ? `cancelled by ${asked.slice(7)}` : `paused by ${asked}`,
        );
        return;
      }
      if (r.group >= r.groups) {
        r.state = 'completed';
        r.ended_at = new Date().toISOString();
        await this.store.save(r);
        this.finish(r);
        return;
      }
      const todo = r.guests.filter((g) => g.group === r.group && !isDone(g.outcome));
      if (todo.length === 0) {
        r.group++;
        await this.store.save(r);
        continue;
      }
      if (this.engine.stopping) return; // the daemon stops: start() pauses it next time
      const o = r.options;
      if (o.not_after && Date.now() >= Date.parse(o.not_after)) {
        const left = r.guests.filter((g) => g.group >= 0 && !isDone(g.outcome)).length;
        await this.stopAs(
          r,
          'paused',
          `the maintenance window ended at ${o.not_after}; ${left} guest(s) not started ('pvepatch rollout resume ${r.id}' goes on outside the window)`,
        );
        return;
      }
      if ((await this.svc.quorum?.()) === false) {
        // without quorum nothing new starts; the loop looks again (pause, cancel and stop still work)
        if (this.waitingQuorum.get(id) !== true) {
          this.waitingQuorum.set(id, true);
          this.log(`rollout ${id}: the cluster has no quorum - group ${r.group + 1} waits until it returns`);
          this.engine.events.emit(id, {
            type: 'rollout',
            rollout: view(r),
            what: `waiting for cluster quorum before group ${r.group + 1} of ${r.groups}`,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, QUORUM_RETRY_MS));
        continue;
      }
      if (this.waitingQuorum.delete(id)) this.log(`rollout ${id}: the cluster is quorate again - going on`);
      const run = await this.engine.startRun(
        {
          selector: todo.map((g) => String(g.vmid)),
          exclude: o.exclude,
          security_only: o.security_only,
          ...(o.reboot ? { reboot: o.reboot } : {}),
          ...(o.on_failure ? { on_failure: o.on_failure } : {}),
          ...(o.plan ? { plan: o.plan } : {}),
        },
        meta,
      );
      r.runs.push(run.id);
      for (const g of todo) g.run_id = run.id;
      await this.store.save(r);
      this.engine.events.emit(id, {
        type: 'rollout',
        rollout: view(r),
        what: `group ${r.group + 1} of ${r.groups}${r.group === 0 && o.canary > 0 ? ' (canary)' : ''}: ${todo.map((g) => g.vmid).join(', ')} in run ${run.id}`,
      });
      const relay = this.engine.events.subscribe(run.id, (e) => {
        if (e.type === 'stage' || e.type === 'log' || e.type === 'guest-result') this.engine.events.emit(id, e);
      });
      await this.engine.waitRun(run.id);
      relay.close();
      if (this.engine.stopping) return; // its guests' outcomes are settled from the run at the next start
      const fresh = this.store.get(id);
      this.settleFromRuns(fresh);
      await this.settleReasons(fresh, run.id);
      const f = failures(fresh);
      if (f.halt) {
        fresh.state = 'halted';
        fresh.ended_at = new Date().toISOString();
        fresh.halt = { failures: f.failed.map((g) => ({ vmid: g.vmid, outcome: g.outcome!, reason: g.reason ?? '' })) };
        fresh.note = `${f.failed.length} guest(s) failed (${'count' in o.max_failures ? `at most ${o.max_failures.count}` : `at most ${o.max_failures.percent}%`} allowed); ${fresh.guests.filter((g) => g.outcome === undefined).length} left untouched`;
        await this.store.save(fresh);
        this.engine.events.emit(id, { type: 'rollout-halted', rollout: view(fresh), failures: fresh.halt.failures });
        this.svc.notify?.(rolloutHaltedNotification(fresh, this.svc.node));
        this.finish(fresh);
        return;
      }
      // guests the gate refused for lost quorum were not touched: they run again once it returns
      const retry = fresh.guests.filter((g) => g.outcome === 'refused' && g.reason?.includes(NO_QUORUM));
      for (const g of retry) {
        delete g.outcome;
        delete g.reason;
        delete g.run_id;
      }
      if (retry.length === 0) fresh.group++;
      await this.store.save(fresh);
    }
  }

  /** Outcomes of the guests of the runs the rollout started, as those runs recorded them. */
  private settleFromRuns(r: Rollout): void {
    for (const g of r.guests) {
      if (!g.run_id || isDone(g.outcome)) continue;
      const o = this.engine.getRun(g.run_id)?.guests[String(g.vmid)];
      if (o) g.outcome = o;
    }
  }

  private async settleReasons(r: Rollout, runId: string): Promise<void> {
    try {
      const report = await this.engine.readReport(runId);
      for (const res of report.guests) {
        const g = r.guests.find((x) => x.vmid === res.vmid);
        if (g && res.reason) g.reason = res.reason;
      }
    } catch {
      // a run without a report (stopped by force): the outcomes are enough
    }
  }

  private async stopAs(r: Rollout, state: 'paused' | 'cancelled', note: string): Promise<void> {
    r.state = state;
    r.note = note;
    if (state === 'cancelled') r.ended_at = new Date().toISOString();
    await this.store.save(r);
    this.finish(r);
  }

  private finish(r: Rollout): void {
    this.engine.events.emit(r.id, { type: 'rollout-finished', rollout: view(r) });
    this.engine.events.end(r.id);
  }
}
