/**
 * Rollouts across the cluster's nodes (cluster mode). The rollout lives in the shared
 * `<cluster_dir>/pvepatch/rollouts.json`; the leader (the node holding the leader lock) steps
 * every running rollout each tick: it hands the current group's guests to the nodes that host
 * them (`attempt`), reads what each node did from that node's work file (node-work.ts), and
 * moves on, halts, pauses or completes exactly as a single daemon does. Every node (the leader
 * too) executes the guests handed to it with its own engine, one run per rollout and group.
 *
 * Because the step is computed from the shared files alone, a node that takes the lock after the
 * leader died goes on at the guest where it stopped: a guest a node has accepted is never handed
 * to anyone else unless that node says it was not touched (refused, or moved to another node).
 */

import type { ClusterService } from '../cluster/service.js';
import { errorMessage } from '../core/errors.js';
import type { Engine, RunMeta } from '../engine/engine.js';
import type { RolloutView } from '../engine/events.js';
import type { EngineServices } from '../engine/types.js';
import { rolloutHaltedNotification } from '../notify/from-engine.js';
import { listGuests } from '../proxmox/inventory.js';
import { failures } from './groups.js';
import { NodeWork, readWork, type WorkEntry, workKey } from './node-work.js';
import type { RolloutStore } from './store.js';
import { isDone, type Rollout, type RolloutGuest } from './types.js';

/** What the gate stage's refusal says when the cluster has no quorum. */
export const NO_QUORUM = 'the cluster has no quorum';

export const rolloutView = (r: Rollout): RolloutView => ({
  id: r.id,
  state: r.state,
  group: r.group,
  groups: r.groups,
  runs: [...r.runs],
  ...(r.note ? { note: r.note } : {}),
});

const ENDED = new Set(['halted', 'cancelled', 'completed']);

export class ClusterRollouts {
  private readonly work: NodeWork;
  /** What this node last saw of each rollout, to turn changes into events for its callers. */
  private readonly seen = new Map<string, string>();
  private readonly quorumWait = new Set<string>();

  constructor(
    private readonly svc: EngineServices,
    private readonly engine: Engine,
    private readonly store: RolloutStore,
    private readonly cluster: ClusterService,
    private readonly nodeWaitMs: number,
    private readonly log: (line: string) => void,
  ) {
    this.work = new NodeWork(cluster.clusterDir, cluster.node);
  }

  get node(): string {
    return this.cluster.node;
  }

  /** At start: what this node had accepted before it stopped is settled from its runs. */
  async start(): Promise<void> {
    await this.work.load();
    const changes: Record<string, WorkEntry | undefined> = {};
    for (const [key, e] of this.work.all()) {
      if (e.state === 'accepted' && !e.run_id)
        changes[key] = undefined; // never started: nothing was touched
      else if (e.state !== 'done') {
        const vmid = key.split('/')[1]!;
        const outcome = (e.run_id && this.engine.getRun(e.run_id)?.guests[vmid]) || 'interrupted';
        changes[key] = { ...e, state: 'done', outcome, at: new Date().toISOString() };
      }
    }
    if (Object.keys(changes).length) await this.work.set(changes);
    for (const r of this.store.list()) this.seen.set(r.id, signature(r));
  }

  /** Every tick on every node: read the shared file, report changes, execute what was handed here, lead if leader. */
  async tick(): Promise<void> {
    await this.store.refresh();
    this.watch();
    await this.execute();
    if (this.cluster.isLeader()) {
      for (const r of this.store.list().filter((x) => x.state === 'running')) {
        try {
          await this.step(r.id);
        } catch (err) {
          this.log(`rollout ${r.id}: ${errorMessage(err)}`);
        }
      }
    }
  }

  // ---- every node: execute the guests handed to it ----

  private async execute(): Promise<void> {
    const quorate = this.cluster.isQuorate() !== false;
    for (const r of this.store.list()) {
      if (r.state === 'cancelled' || r.request?.kind === 'cancel') this.cancelRuns(r);
      if (r.state !== 'running' || r.request || !quorate || this.engine.stopping) continue;
      const mine = r.guests.filter(
        (g) =>
          (g.via ?? g.node) === this.node &&
          g.group === r.group &&
          g.attempt !== undefined &&
          !isDone(g.outcome) &&
          !this.work.get(workKey(r.id, g.vmid, g.attempt)),
      );
      if (mine.length > 0) await this.accept(r, mine);
    }
  }

  private async accept(r: Rollout, guests: RolloutGuest[]): Promise<void> {
    const keys = guests.map((g) => workKey(r.id, g.vmid, g.attempt!));
    const at = () => new Date().toISOString();
    const set = (e: (k: string, i: number) => WorkEntry) =>
      this.work.set(Object.fromEntries(keys.map((k, i) => [k, e(k, i)])));
    // written before the run starts: a guest is never started twice for one hand-over
    await set(() => ({ state: 'accepted', at: at() }));
    const o = r.options;
    let runId: string;
    try {
      const run = await this.engine.startRun(
        {
          selector: guests.map((g) => String(g.vmid)),
          exclude: o.exclude,
          security_only: o.security_only,
          ...(o.reboot ? { reboot: o.reboot } : {}),
          ...(o.on_failure ? { on_failure: o.on_failure } : {}),
          ...(o.plan ? { plan: o.plan } : {}),
        },
        r.meta ?? ({ trigger: 'api', user: r.created_by } satisfies RunMeta),
      );
      runId = run.id;
    } catch (err) {
      this.log(`rollout ${r.id}: node '${this.node}' could not start its guests - ${errorMessage(err)}`);
      await set(() => ({ state: 'done', outcome: 'refused', reason: errorMessage(err), at: at() }));
      return;
    }
    await set(() => ({ state: 'running', run_id: runId, at: at() }));
    this.log(
      `rollout ${r.id}: group ${r.group + 1} on node '${this.node}': ${guests.map((g) => g.vmid).join(', ')} in run ${runId}`,
    );
    const relay = this.engine.events.subscribe(runId, (e) => {
      if (e.type === 'stage' || e.type === 'log' || e.type === 'guest-result') this.engine.events.emit(r.id, e);
    });
    void this.engine
      .waitRun(runId)
      .then(async () => {
        relay.close();
        if (this.engine.stopping) return; // settled from the run at the next start
        const outcomes = this.engine.getRun(runId)?.guests ?? {};
        const reasons = new Map<number, string>();
        try {
          for (const res of (await this.engine.readReport(runId)).guests)
            if (res.reason) reasons.set(res.vmid, res.reason);
        } catch {
          // a run without a report: the outcomes are enough
        }
        await set((_k, i) => {
          const g = guests[i]!;
          const reason = reasons.get(g.vmid);
          return {
            state: 'done',
            run_id: runId,
            outcome: outcomes[String(g.vmid)] ?? 'interrupted',
            ...(reason ? { reason } : {}),
            at: at(),
          };
        });
      })
      .catch((err) =>
        this.log(`rollout ${r.id}: unable to record node '${this.node}''s outcomes - ${errorMessage(err)}`),
      );
  }

  private cancelRuns(r: Rollout): void {
    for (const [key, e] of this.work.all()) {
      if (!key.startsWith(`${r.id}/`) || e.state !== 'running' || !e.run_id) continue;
      try {
        this.engine.cancel(e.run_id, r.request?.user ?? 'the rollout');
      } catch {
        // ended already
      }
    }
  }

  // ---- the leader: one step of a running rollout ----

  private async step(id: string): Promise<void> {
    const before = this.store.get(id);
    const todoBefore = before.guests.filter((g) => g.group === before.group && !isDone(g.outcome));
    // the nodes' work files and liveness, read before the locked change
    const nodes = [...new Set(todoBefore.flatMap((g) => [g.node ?? this.node, ...(g.via ? [g.via] : [])]))];
    const work = new Map<string, Record<string, WorkEntry>>();
    const alive = new Map<string, { alive: boolean; reason?: string }>();
    for (const n of nodes) {
      work.set(n, await readWork(this.cluster.clusterDir, n));
      alive.set(n, n === this.node ? { alive: true } : await this.cluster.peerStatus(n));
    }
    const moved = todoBefore.some((g) => entryOf(work, id, g)?.reason?.includes('runs on node'))
      ? new Map((await listGuests(this.svc.client)).map((g) => [g.vmid, g.node]))
      : undefined;
    const quorate = this.cluster.isQuorate() !== false;
    const now = Date.now();
    let said: { what: string; halted?: boolean } | undefined;
    const r = await this.store.update(id, (r) => {
      said = undefined;
      if (r.state !== 'running') return;
      if (r.request) {
        const cancel = r.request.kind === 'cancel';
        r.state = cancel ? 'cancelled' : 'paused';
        r.note = `${cancel ? 'cancelled' : 'paused'} by ${r.request.user}`;
        if (cancel) r.ended_at = new Date().toISOString();
        delete r.request;
        return;
      }
      const o = r.options;
      for (;;) {
        if (r.group >= r.groups) {
          r.state = 'completed';
          r.ended_at = new Date().toISOString();
          return;
        }
        const todo = r.guests.filter((g) => g.group === r.group && !isDone(g.outcome));
        if (todo.length > 0) break;
        r.group++;
      }
      const todo = r.guests.filter((g) => g.group === r.group && !isDone(g.outcome));
      const unassigned = todo.filter((g) => g.attempt === undefined);
      if (unassigned.length > 0) {
        if (o.not_after && now >= Date.parse(o.not_after)) {
          const left = r.guests.filter((g) => g.group >= 0 && !isDone(g.outcome)).length;
          r.state = 'paused';
          r.note = `the maintenance window ended at ${o.not_after}; ${left} guest(s) not started ('pvepatch rollout resume ${r.id}' goes on outside the window)`;
          return;
        }
        if (!quorate) return; // nothing new is handed out without quorum
        for (const g of unassigned) {
          g.attempt = 1;
          g.assigned_at = new Date(now).toISOString();
        }
        said = {
          what: `group ${r.group + 1} of ${r.groups}${r.group === 0 && o.canary > 0 ? ' (canary)' : ''}: ${unassigned.map((g) => `${g.vmid} on ${g.node}`).join(', ')}`,
        };
      }
      const viaSsh = this.svc.config.cluster_ssh ? this.node : undefined;
      for (const g of todo)
        settle(r, g, entryOf(work, id, g), alive.get(g.node ?? this.node), {
          now,
          nodeWaitMs: this.nodeWaitMs,
          moved,
          viaSsh,
        });
      if (!r.guests.filter((g) => g.group === r.group).every((g) => isDone(g.outcome))) return;
      const f = failures(r);
      if (f.halt) {
        r.state = 'halted';
        r.ended_at = new Date().toISOString();
        r.halt = { failures: f.failed.map((g) => ({ vmid: g.vmid, outcome: g.outcome!, reason: g.reason ?? '' })) };
        r.note = `${f.failed.length} guest(s) failed (${'count' in o.max_failures ? `at most ${o.max_failures.count}` : `at most ${o.max_failures.percent}%`} allowed); ${r.guests.filter((g) => g.outcome === undefined).length} left untouched`;
        said = { what: 'halted', halted: true };
        return;
      }
      // refused for lost quorum: untouched, handed out again once it returns
      const retry = r.guests.filter(
        (g) => g.group === r.group && g.outcome === 'refused' && g.reason?.includes(NO_QUORUM),
      );
      for (const g of retry) again(g);
      if (retry.length === 0) r.group++;
    });
    if (said?.halted) {
      this.svc.notify?.(rolloutHaltedNotification(r, this.svc.node));
      this.log(`rollout ${id} halted: ${r.note}`);
    } else if (said) this.log(`rollout ${id}: ${said.what}`);
    if (!quorate && r.state === 'running' && !this.quorumWait.has(id)) {
      this.quorumWait.add(id);
      this.log(`rollout ${id}: the cluster has no quorum - group ${r.group + 1} waits until it returns`);
    } else if (quorate && this.quorumWait.delete(id))
      this.log(`rollout ${id}: the cluster is quorate again - going on`);
  }

  // ---- every node: changes of the shared rollouts become events on this node ----

  private watch(): void {
    for (const r of this.store.list()) {
      const sig = signature(r);
      const last = this.seen.get(r.id);
      if (last === sig) continue;
      this.seen.set(r.id, sig);
      if (last === undefined && ENDED.has(r.state)) continue;
      const wasEnded = last !== undefined && (last.startsWith('paused') || ENDED.has(last.split('|')[0]!));
      if (r.state === 'running' && wasEnded) this.engine.events.reset(r.id);
      if (r.state === 'halted' && r.halt) {
        this.engine.events.emit(r.id, { type: 'rollout-halted', rollout: rolloutView(r), failures: r.halt.failures });
      } else {
        this.engine.events.emit(r.id, { type: 'rollout', rollout: rolloutView(r), what: describe(r) });
      }
      if (r.state !== 'running') {
        this.engine.events.emit(r.id, { type: 'rollout-finished', rollout: rolloutView(r) });
        this.engine.events.end(r.id);
      }
    }
  }
}

function entryOf(work: Map<string, Record<string, WorkEntry>>, id: string, g: RolloutGuest): WorkEntry | undefined {
  if (g.attempt === undefined) return undefined;
  return work.get(g.via ?? g.node ?? '')?.[workKey(id, g.vmid, g.attempt)];
}

/** A guest handed out again (a new attempt), as if never handed out. */
function again(g: RolloutGuest): void {
  g.attempt = (g.attempt ?? 0) + 1;
  delete g.outcome;
  delete g.reason;
  delete g.run_id;
}

/** What the guest's node reported, applied to the rollout's record of it. */
function settle(
  r: Rollout,
  g: RolloutGuest,
  e: WorkEntry | undefined,
  peer: { alive: boolean; reason?: string } | undefined,
  o: { now: number; nodeWaitMs: number; moved: Map<number, string> | undefined; viaSsh: string | undefined },
): void {
  const { now, nodeWaitMs, moved } = o;
  if (g.attempt === undefined) return;
  if (e?.run_id && !g.run_id) {
    g.run_id = e.run_id;
    if (!r.runs.includes(e.run_id)) r.runs.push(e.run_id);
  }
  if (e?.state === 'done') {
    const now = moved?.get(g.vmid);
    if ((e.outcome === 'refused' || e.outcome === 'skipped') && now && now !== g.node) {
      // it migrated before its node started it: the node it runs on now patches it
      g.node = now;
      again(g);
      return;
    }
    if (e.outcome === 'interrupted') {
      // its node stopped mid-run: handed out again, as a resumed rollout patches it again
      again(g);
      return;
    }
    g.outcome = e.outcome ?? 'failed';
    if (e.reason) g.reason = e.reason;
    return;
  }
  if (!e && !g.via && peer && !peer.alive && o.viaSsh) {
    // no daemon on its node, nothing accepted there: cluster_ssh lets the leader patch it from here
    g.via = o.viaSsh;
    again(g);
    return;
  }
  if (!e && peer && !peer.alive && now - Date.parse(g.assigned_at ?? '') > nodeWaitMs) {
    g.outcome = 'refused';
    g.reason = `${peer.reason ?? `no pvepatch daemon running on node '${g.node}'`}; not patched`;
  }
}

function signature(r: Rollout): string {
  return [
    r.state,
    r.group,
    r.note ?? '',
    r.guests.map((g) => `${g.vmid}:${g.outcome ?? ''}:${g.attempt ?? ''}`).join(','),
  ].join('|');
}

function describe(r: Rollout): string {
  const done = r.guests.filter((g) => g.group >= 0 && isDone(g.outcome)).length;
  const all = r.guests.filter((g) => g.group >= 0).length;
  const current = r.guests.filter((g) => g.group === r.group && g.attempt !== undefined && !isDone(g.outcome));
  const at = current.length
    ? `; group ${r.group + 1} of ${r.groups}: ${current.map((g) => `${g.vmid} on ${g.node}`).join(', ')}`
    : '';
  return `${r.state}${r.note ? ` (${r.note})` : ''}: ${done}/${all} guests done${at}`;
}
