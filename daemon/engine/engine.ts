import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, PvepatchError } from '../core/errors.js';
import { escapeDeep } from '../core/escape.js';
import { newRunId } from '../core/run-id.js';
import { assertPackageNames } from '../core/validate.js';
import { rebootFailedNotifications, runNotification } from '../notify/from-engine.js';
import { type Guest, listGuests } from '../proxmox/inventory.js';
import { parseSelector, selectGuests } from '../proxmox/selectors.js';
import { RunLog, readRunLog, runLogPath } from '../store/run-log.js';
import type { RunRow } from '../store/runs.js';
import type { RebootRecord, RunSummary } from '../store/state.js';
import type { GuestContext } from './context.js';
import { RunEvents } from './events.js';
import { type FleetRow, fleetRows, PlanCache } from './fleet.js';
import { type Pools, REBOOT_STAGES, runGuest, runPools, STAGES } from './guest-run.js';
import { hookSession } from './hook-session.js';
import { Maintenance } from './maintenance.js';
import { planGuest } from './plan.js';
import { mapLimit } from './pool.js';
import { markInterrupted } from './recovery.js';
import { applyRunOverrides, postRun, preRun, type RunHookState, type RunInfo } from './run-hooks.js';
import { guestPhase, resultFields } from './stages/hooks.js';
import { resolveTargets } from './targets.js';
import type { EngineServices, GuestPlan, GuestResult, PlanRequest, RunReport, Target } from './types.js';

/**
 * The caller's say over the resolved guests: those it may not touch come back with a skip reason
 * naming the missing privilege (or it throws 'forbidden' when it may touch none).
 */
export type Authorize = (targets: Target[]) => Target[] | Promise<Target[]>;

export interface RunMeta {
  trigger: 'cli' | 'api' | 'schedule';
  user: string;
}

/** What identifies a version of a file: its inode, size and change time ('' when absent). */
function fileStamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return '';
  }
}

/** How old the guest list behind the fleet overview may be. */
const FLEET_LIST_TTL_MS = 10_000;

const OUTCOMES = [
  'updated',
  'would-update',
  'up-to-date',
  'skipped',
  'refused',
  'failed',
  'rolled-back',
  'interrupted',
] as const;

interface ActiveRun {
  summary: RunSummary;
  /** A run of deferred reboots: vmid → the record its run left pending. */
  deferred?: Map<number, RebootRecord>;
  log: RunLog;
  work: Promise<RunReport>;
  /** vmid → the stage it is in, for the final line of a forced stop. */
  stages: Map<number, string>;
  /** Who cancelled the run: guests finish their current stage, the rest are skipped. */
  cancelledBy?: string;
  meta: RunMeta;
  /** Its hook scripts, once pre-run ran. */
  hooks?: RunHookState;
}

/** Plans and runs patch jobs; each run is a tracked worker identified by its run id. */
export class Engine {
  private readonly svc: EngineServices;
  private readonly active = new Map<string, ActiveRun>();
  /** vmid → run id (or 'recovery') of what is working in the guest now; one at a time. */
  private readonly busy = new Map<number, string>();
  private stopRequested = false;
  readonly maintenance: Maintenance;
  readonly events = new RunEvents();
  /** The last plan of each guest, for the fleet overview. */
  readonly plans = new PlanCache();
  /** The cluster's guest list as the fleet overview last read it. */
  private inventory: { at: number; guests: Promise<Guest[]>; resolved: Map<string, Promise<Target[]>> } | undefined;

  constructor(svc: EngineServices, daemonLog: (line: string) => void = () => {}) {
    this.svc = svc;
    this.maintenance = new Maintenance(
      svc,
      (vmid) => this.reserve(vmid, 'recovery'),
      daemonLog,
      svc.config.recovery_retry * 1000,
    );
  }

  get logDir(): string {
    return this.svc.config.log_dir;
  }

  /** Local start-up work only (no guest, no API): runs left running are marked interrupted. */
  async start(log: (line: string) => void): Promise<void> {
    mkdirSync(this.logDir, { recursive: true, mode: 0o700 });
    await markInterrupted(this.svc, log);
  }

  async plan(req: PlanRequest, authorize: Authorize = (t) => t): Promise<GuestPlan[]> {
    this.refuseWhenStopping();
    const exclude = validateRequest(req);
    const targets = await authorize(await resolveTargets(this.svc, req.selector, req));
    const plans = await mapLimit(targets, this.svc.config.concurrency, (t) =>
      planGuest(this.svc, t, { exclude, dryRun: req.dry_run ?? false, securityOnly: req.security_only ?? false }),
    );
    // the overview shows what a plain plan says (no exclusions, every update)
    if (exclude.length === 0 && !req.security_only) this.plans.put(plans);
    return plans;
  }

  /**
   * Every guest the caller may see, with its cached plan, last run and pending reboot. The guest
   * list and each guest's policy and transport are the cluster's from at most FLEET_LIST_TTL_MS ago
   * (one listing serves every page load meanwhile) and resolved again at once when the policy file
   * changes; `fresh` lists again.
   */
  async fleet(selector: string[], visible: Authorize = (t) => t, opts: { fresh?: boolean } = {}): Promise<FleetRow[]> {
    const sel = parseSelector(selector);
    const now = Date.now();
    const stamp = fileStamp(this.svc.config.policy_file);
    let inv = this.inventory;
    if (opts.fresh || !inv || now - inv.at > FLEET_LIST_TTL_MS) {
      const guests = listGuests(this.svc.client);
      inv = { at: now, guests, resolved: new Map() };
      this.inventory = inv;
      guests.catch(() => {
        if (this.inventory?.guests === guests) this.inventory = undefined; // a failed listing is not kept
      });
    }
    const { guests } = inv;
    let all = inv.resolved.get(stamp);
    if (!all) {
      all = resolveTargets(this.svc, ['all'], {}, () => guests);
      inv.resolved.clear();
      inv.resolved.set(stamp, all);
      const failed = all;
      failed.catch(() => inv.resolved.delete(stamp));
    }
    const chosen = new Set(selectGuests(sel, await guests).map((g) => g.vmid));
    const targets = (await all).filter((t) => chosen.has(t.guest.vmid));
    return fleetRows(await visible(targets), this.plans, this.svc.store.runs);
  }

  /**
   * Reboots that runs deferred to the reboot window (records still pending): one run that gates,
   * enters, reboots and verifies each guest, with the rollback its policy asks for on failure, to
   * the snapshot its patch run took. Guests a run is working in now are left for the next pass.
   */
  async startRebootRun(records: RebootRecord[], meta: RunMeta): Promise<RunSummary | undefined> {
    const todo = records.filter((r) => !this.busy.has(r.vmid) && !this.active.has(r.run_id));
    if (todo.length === 0) return undefined;
    const deferred = new Map(todo.map((r) => [r.vmid, r]));
    return this.startRun({ selector: todo.map((r) => String(r.vmid)), exclude: [] }, meta, (t) => t, deferred);
  }

  /** Validates, resolves the guests, then returns the run id while the run goes on. */
  async startRun(
    req: PlanRequest,
    meta: RunMeta,
    authorize: Authorize = (t) => t,
    deferred?: Map<number, RebootRecord>,
  ): Promise<RunSummary> {
    this.refuseWhenStopping();
    const saved = req.plan ? this.approvedPlan(req.plan) : undefined;
    // a plan's guests, or those of them the selector names (a rollout's group)
    if (saved && req.selector.length === 0) req = { ...req, selector: saved.guests.map((g) => String(g.vmid)) };
    const exclude = validateRequest(req);
    let resolved = await resolveTargets(this.svc, req.selector, req);
    if (saved) {
      const byVmid = new Map(saved.guests.map((g) => [g.vmid, g]));
      resolved = resolved.filter((t) => byVmid.has(t.guest.vmid));
      if (resolved.length === 0)
        throw new PvepatchError(
          'input-invalid',
          `unable to run plan '${saved.id}' - none of the selected guests (${req.selector.join(' ')}) is in it`,
        );
      resolved = resolved.map((t) => ({ ...t, approved: byVmid.get(t.guest.vmid)! }));
    }
    const targets = await authorize(resolved);
    this.refuseWhenStopping();
    const only = targets.length === 1 ? String(targets[0]!.guest.vmid) : '';
    const id = newRunId({ node: this.svc.node, type: req.dry_run ? 'dryrun' : 'run', vmid: only, ...meta });
    const summary: RunSummary = {
      id,
      state: 'running',
      started_at: new Date().toISOString(),
      selector: req.plan ? `plan ${req.plan}: ${req.selector.join(' ')}` : req.selector.join(' '),
      dry_run: req.dry_run ?? false,
      security_only: req.security_only ?? false,
      ...(req.reboot ? { reboot: req.reboot } : {}),
      ...(req.on_failure ? { on_failure: req.on_failure } : {}),
      exclude,
      guests: {},
    };
    await this.svc.store.upsertRun(summary);
    if (saved) await this.svc.plans!.usedBy(saved.id, id);
    const log = new RunLog(this.logDir, id, { maxBytes: this.svc.config.run_log_max_mb * 1024 * 1024 });
    log.open();
    log.write(`pvepatch run ${id}${deferred ? ' (reboots deferred to the reboot window)' : ''}`, { essential: true });
    log.write(
      `selector: ${summary.selector}; exclude: ${exclude.join(',') || '-'}; dry run: ${summary.dry_run ? 'yes' : 'no'}; security only: ${summary.security_only ? 'yes' : 'no'}; started by ${meta.user} (${meta.trigger})`,
      { essential: true },
    );
    const run: ActiveRun = {
      summary,
      meta,
      log,
      stages: new Map(),
      work: Promise.resolve(undefined as never),
      ...(deferred ? { deferred } : {}),
    };
    const guests = targets.map(({ guest: g }) => ({ vmid: g.vmid, name: g.name, type: g.type, node: g.node }));
    this.events.emit(id, { type: 'run-started', run: { ...summary }, targets: guests });
    run.work = this.execute(run, targets);
    this.active.set(id, run);
    run.work
      .finally(() => {
        this.active.delete(id);
        this.maintenance.kick();
      })
      .catch(() => {});
    return { ...summary };
  }

  /** An approved saved plan, or a clear refusal. */
  approvedPlan(id: string) {
    if (!this.svc.plans) throw new PvepatchError('not-found', 'this daemon keeps no saved plans');
    const p = this.svc.plans.get(id);
    if (p.state !== 'approved')
      throw new PvepatchError(
        'input-invalid',
        `unable to run plan '${id}' - it is not approved ('pvepatch plan approve ${id}')`,
      );
    return p;
  }

  /** Whether SIGTERM asked the engine to stop (no new run starts). */
  get stopping(): boolean {
    return this.stopRequested;
  }

  /** Resolves when the run has ended (immediately for finished runs). */
  async waitRun(id: string): Promise<void> {
    await this.active.get(id)?.work.catch(() => {});
  }

  /**
   * Cancels a run: guests in flight finish the stage they are in (never cut mid-dpkg), the others
   * start no further stage and are skipped with who cancelled. A finished run cannot be cancelled.
   */
  cancel(id: string, user: string): RunSummary {
    const run = this.active.get(id);
    if (!run) {
      const known = this.getRun(id);
      if (!known) throw new PvepatchError('not-found', `no run '${id}' - see 'pvepatch runs'`);
      throw new PvepatchError('input-invalid', `unable to cancel run '${id}' - it has already ended (${known.state})`);
    }
    run.cancelledBy ??= user;
    run.log.write(`cancel requested by ${user}: guests finish their current stage, the rest are skipped`, {
      essential: true,
    });
    return { ...run.summary };
  }

  getRun(id: string): RunSummary | undefined {
    return this.svc.store.runs.get(id);
  }

  /**
   * Whether pvepatch works in the guest now (a run or the crash recovery holds it), and where: what
   * a backup hook asks before it lets a backup of the guest start.
   */
  patching(vmid: number): { run_id: string; stage: string; since: string } | undefined {
    const owner = this.busy.get(vmid);
    if (owner === undefined) return undefined;
    const run = this.active.get(owner);
    return {
      run_id: owner,
      stage: run?.stages.get(vmid) ?? (owner === 'recovery' ? 'recovery' : 'queued'),
      since: run?.summary.started_at ?? '',
    };
  }

  /** A page of runs, newest first. */
  listRuns(start = 0, limit = 50): { total: number; rows: RunRow[] } {
    return this.svc.store.runs.page(start, limit);
  }

  async readReport(id: string): Promise<RunReport> {
    const run = this.getRun(id);
    if (!run) throw new PvepatchError('not-found', `no run '${id}' - see 'pvepatch runs'`);
    if (!run.report) throw new PvepatchError('not-found', `run '${id}' has no report yet (state ${run.state})`);
    return JSON.parse(await readFile(run.report, 'utf8')) as RunReport;
  }

  readLog(id: string, start?: number, limit?: number) {
    if (!this.getRun(id)) throw new PvepatchError('not-found', `no run '${id}' - see 'pvepatch runs'`);
    return readRunLog(this.logDir, id, start, limit);
  }

  /** SIGTERM: no new run or stage starts; each guest finishes the stage it is in. */
  requestStop(): void {
    this.stopRequested = true;
    this.maintenance.stop();
  }

  /** Resolves true once every run has ended, false when `limitMs` passed first. */
  async drain(limitMs: number, abort?: Promise<void>): Promise<boolean> {
    const all = Promise.all([...this.active.values()].map((r) => r.work.catch(() => {}))).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), limitMs);
    });
    const aborted = abort ? abort.then(() => false) : new Promise<boolean>(() => {});
    try {
      return await Promise.race([all, limit, aborted]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The stop limit passed (or a second SIGTERM): every run still active gets its final line and
   * is marked interrupted now; holds it recorded stay recorded for recovery at the next start.
   */
  async forceStop(): Promise<void> {
    for (const run of this.active.values()) {
      const where = [...run.stages].map(([vmid, stage]) => `${vmid} in stage '${stage}'`).join(', ') || 'no guest';
      const reason = `interrupted - the daemon was stopped before the run ended (${where})`;
      run.log.finish(`TASK ERROR: ${reason}`);
      Object.assign(run.summary, { state: 'interrupted', ended_at: new Date().toISOString(), error: reason });
      await this.svc.store.upsertRun(run.summary);
      this.events.emit(run.summary.id, { type: 'run-finished', run: { ...run.summary } });
      this.events.end(run.summary.id);
    }
  }

  private refuseWhenStopping(): void {
    if (this.stopRequested)
      throw new PvepatchError(
        'daemon-unavailable',
        'unable to start work - the daemon is stopping; retry once it runs again',
      );
  }

  /** Takes a guest for `owner`; returns the release function, or null when someone else has it. */
  private reserve(vmid: number, owner: string): (() => void) | null {
    if (this.busy.has(vmid)) return null;
    this.busy.set(vmid, owner);
    return () => {
      if (this.busy.get(vmid) === owner) this.busy.delete(vmid);
    };
  }

  private async execute(run: ActiveRun, targets: Target[]): Promise<RunReport> {
    const { summary, log } = run;
    log.setSources(targets.length);
    const info: RunInfo = {
      summary,
      meta: run.meta,
      node: this.svc.node,
      log: (line) => {
        log.write(line, { essential: true });
        this.events.emit(summary.id, { type: 'log', vmid: null, line });
      },
    };
    const hooks: RunHookState = { session: hookSession(this.svc.config), records: [] };
    let aborted: string | undefined;
    try {
      aborted = await preRun(hooks, info, targets);
    } catch (err) {
      aborted = `pre-run hooks did not run - ${errorMessage(err)}`;
    }
    run.hooks = hooks;
    if (aborted) info.log(`run aborted before any guest was entered: ${aborted}`);
    const settle = async (r: GuestResult) => {
      this.events.emit(summary.id, { type: 'guest-result', result: r });
      if (r.outcome === 'updated' || r.outcome === 'rolled-back') this.plans.drop(r.vmid);
      summary.guests[String(r.vmid)] = r.outcome;
      if (r.reboot) summary.reboots = { ...summary.reboots, [String(r.vmid)]: r.reboot.status };
      await this.svc.store.upsertRun(summary);
      return r;
    };
    // every guest starts at once; the pools bound planning, snapshots and upgrades separately
    const pools = runPools(this.svc.config);
    const results = await Promise.all(
      targets.map(async (t) => {
        if (aborted === undefined) return settle(await this.guestWithGuard(run, t, pools));
        const { vmid, name } = t.guest;
        return settle({ vmid, name, outcome: 'refused', reason: aborted });
      }),
    );
    if (summary.state !== 'running') return this.reportOf(summary, results); // a forced stop closed it
    const count = (o: string) => results.filter((r) => r.outcome === o);
    const failed = [...count('failed'), ...count('rolled-back')];
    const [refused, interrupted] = [count('refused'), count('interrupted')];
    if (aborted) summary.error = `aborted - ${aborted}`;
    else if (failed.length > 0)
      summary.error = `${failed.length} guest(s) failed: ${failed.map((r) => r.vmid).join(', ')}`;
    else if (run.cancelledBy !== undefined) summary.error = `cancelled by ${run.cancelledBy}`;
    else if (interrupted.length > 0)
      summary.error = `interrupted - the daemon stopped before ${interrupted.map((r) => r.vmid).join(', ')} were done`;
    const state: RunSummary['state'] =
      failed.length > 0 || aborted
        ? 'error'
        : interrupted.length > 0 || run.cancelledBy !== undefined
          ? 'interrupted'
          : refused.length > 0
            ? 'warnings'
            : 'ok';
    await postRun(hooks, info, targets, results, state);
    const ended = new Date().toISOString();
    const report = { ...this.reportOf(summary, results, hooks.records), state, ended_at: ended };
    const path = join(this.logDir, `${summary.id}.json`);
    writeFileSync(path, `${JSON.stringify(escapeDeep(report), null, 1)}\n`, { mode: 0o600 });
    const tally = `summary: ${OUTCOMES.map((o) => `${count(o).length} ${o}`).join(', ')}`;
    log.write(tally, { essential: true });
    const final = summary.error
      ? `TASK ERROR: ${summary.error}`
      : refused.length > 0
        ? `TASK WARNINGS: ${refused.length}`
        : 'TASK OK';
    // the log's final line before the state: whoever sees the run ended can read its whole log
    log.finish(final);
    for (const line of [tally, final]) this.events.emit(summary.id, { type: 'log', vmid: null, line });
    Object.assign(summary, { state, ended_at: ended, report: path });
    await this.svc.store.upsertRun(summary);
    this.events.emit(summary.id, { type: 'run-finished', run: { ...summary } });
    this.events.end(summary.id);
    const notify = {
      summary,
      report,
      meta: run.meta,
      node: this.svc.node,
      logPath: runLogPath(this.logDir, summary.id),
    };
    this.svc.notify?.(runNotification(notify));
    for (const n of rebootFailedNotifications(notify)) this.svc.notify?.(n);
    return report;
  }

  private reportOf(summary: RunSummary, guests: GuestResult[], hooks: RunReport['hooks'] = []): RunReport {
    return {
      ...(hooks.length > 0 ? { hooks } : {}),
      id: summary.id,
      state: summary.state,
      started_at: summary.started_at,
      ended_at: summary.ended_at ?? new Date().toISOString(),
      dry_run: summary.dry_run,
      exclude: summary.exclude,
      guests,
    };
  }

  private async guestWithGuard(run: ActiveRun, target: Target, pools: Pools): Promise<GuestResult> {
    const g = target.guest;
    const source = `${g.type === 'lxc' ? 'CT' : 'VM'} ${g.vmid}`;
    const prefix = () => `${new Date().toISOString()} ${source}: `;
    const ctx: GuestContext = {
      svc: this.svc,
      target,
      policy: target.policy,
      runId: run.summary.id,
      dryRun: run.summary.dry_run,
      securityOnly: run.summary.security_only ?? false,
      exclude: run.summary.exclude,
      log: (text, o) => {
        run.log.write(text, { prefix: prefix(), essential: o?.essential ?? false, source });
        this.events.emit(run.summary.id, { type: 'log', vmid: g.vmid, line: `${source}: ${text}` });
      },
      output: (line) => {
        run.log.write(line, { prefix: `${prefix()}| `, source });
        this.events.emit(run.summary.id, { type: 'log', vmid: g.vmid, line: `${source}: | ${line}` });
      },
      outputOpen: () => run.log.accepting(source),
      deadline: Date.now() + this.svc.config.guest_timeout * 1000,
      stopping: () => this.stopRequested || run.cancelledBy !== undefined,
      stopWhy: () => (run.cancelledBy !== undefined ? `run cancelled by ${run.cancelledBy}` : 'daemon stopping'),
      result: { vmid: g.vmid, name: g.name, outcome: 'skipped' },
      timing: { started: Date.now(), tasksMs: 0, queuedMs: 0 },
      ...(run.hooks ? { hooks: run.hooks.session } : {}),
    };
    if (target.skip_reason) return runGuest(ctx, pools);
    applyRunOverrides(ctx, run.hooks?.overrides);
    const release = this.reserve(g.vmid, run.summary.id);
    if (!release) {
      const other = this.busy.get(g.vmid);
      const why = other === 'recovery' ? 'pvepatch is releasing holds an interrupted run left' : `run ${other}`;
      ctx.target = { ...target, skip_reason: `guest is busy - ${why}; retry shortly` };
      return runGuest(ctx, pools);
    }
    const stages = run.stages;
    const deferred = run.deferred?.get(g.vmid);
    if (deferred) {
      ctx.deferredReboot = deferred;
      // the rollback its policy may ask for goes to the snapshot its patch run took
      const snap = this.svc.store.data.snapshots.find(
        (s) => s.vmid === g.vmid && s.run_id === deferred.run_id && s.state === 'created',
      );
      if (snap) {
        ctx.result.snapshot = { name: snap.name, upid: snap.upid ?? '', finished_at: snap.at };
        ctx.result.protection = 'snapshot';
      }
      ctx.log(`reboot deferred by run ${deferred.run_id}: ${deferred.reason}`, { essential: true });
    }
    try {
      stages.set(g.vmid, 'start');
      return await runGuest(
        ctx,
        pools,
        (stage) => {
          stages.set(g.vmid, stage);
          this.events.emit(run.summary.id, { type: 'stage', vmid: g.vmid, stage });
        },
        deferred ? REBOOT_STAGES : STAGES,
      );
    } catch (err) {
      return { ...ctx.result, outcome: 'failed', reason: errorMessage(err) };
    } finally {
      // post-guest whenever pre-guest ran (a drained load balancer is put back whatever happened)
      if (ctx.preGuestRan) {
        stages.set(g.vmid, 'post-guest');
        this.events.emit(run.summary.id, { type: 'stage', vmid: g.vmid, stage: 'post-guest' });
        await guestPhase(ctx, 'post-guest', resultFields(ctx));
      }
      stages.delete(g.vmid);
      release();
    }
  }
}

function validateRequest(req: PlanRequest): string[] {
  parseSelector(req.selector);
  return assertPackageNames(req.exclude);
}
