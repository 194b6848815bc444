import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, PvepatchError } from '../core/errors.js';
import { newRunId } from '../core/run-id.js';
import { assertPackageNames } from '../core/validate.js';
import { parseSelector } from '../proxmox/selectors.js';
import { RunLog, readRunLog } from '../store/run-log.js';
import type { RunSummary } from '../store/state.js';
import type { GuestContext } from './context.js';
import { runGuest } from './guest-run.js';
import { planGuest } from './plan.js';
import { mapLimit } from './pool.js';
import { recoverAtStart } from './recovery.js';
import { resolveTargets } from './targets.js';
import type { EngineServices, GuestPlan, GuestResult, PlanRequest, RunReport, Target } from './types.js';

export interface RunMeta {
  trigger: 'cli' | 'api' | 'schedule';
  user: string;
}

/** Plans and runs patch jobs; each run is a tracked worker identified by its run id. */
export class Engine {
  private readonly svc: EngineServices;
  private readonly active = new Map<string, Promise<RunReport>>();
  /** vmid → run id of the run patching it now; one run per guest at a time. */
  private readonly busy = new Map<number, string>();

  constructor(svc: EngineServices) {
    this.svc = svc;
  }

  get logDir(): string {
    return this.svc.config.log_dir;
  }

  async start(log: (line: string) => void): Promise<void> {
    mkdirSync(this.logDir, { recursive: true, mode: 0o700 });
    await recoverAtStart(this.svc, log);
  }

  async plan(req: PlanRequest): Promise<GuestPlan[]> {
    const exclude = validateRequest(req);
    const targets = await resolveTargets(this.svc, req.selector);
    return mapLimit(targets, this.svc.config.concurrency, (t) =>
      planGuest(this.svc, t, { exclude, dryRun: req.dry_run ?? false, securityOnly: req.security_only ?? false }),
    );
  }

  /** Validates, resolves the guests, then returns the run id while the run goes on. */
  async startRun(req: PlanRequest, meta: RunMeta): Promise<RunSummary> {
    const exclude = validateRequest(req);
    const targets = await resolveTargets(this.svc, req.selector);
    const only = targets.length === 1 ? String(targets[0]!.guest.vmid) : '';
    const id = newRunId({ node: this.svc.node, type: req.dry_run ? 'dryrun' : 'run', vmid: only, ...meta });
    const summary: RunSummary = {
      id,
      state: 'running',
      started_at: new Date().toISOString(),
      selector: req.selector.join(' '),
      dry_run: req.dry_run ?? false,
      security_only: req.security_only ?? false,
      exclude,
      guests: {},
    };
    await this.svc.store.upsertRun(summary);
    const log = new RunLog(this.logDir, id);
    log.open();
    log.write(`pvepatch run ${id}`);
    log.write(
      `selector: ${summary.selector}; exclude: ${exclude.join(',') || '-'}; dry run: ${summary.dry_run ? 'yes' : 'no'}; security only: ${summary.security_only ? 'yes' : 'no'}`,
    );
    const work = this.execute(summary, targets, log);
    this.active.set(id, work);
    work.finally(() => this.active.delete(id)).catch(() => {});
    return summary;
  }

  /** Resolves when the run has ended (immediately for finished runs). */
  async waitRun(id: string): Promise<void> {
    await this.active.get(id)?.catch(() => {});
  }

  getRun(id: string): RunSummary | undefined {
    return this.svc.store.data.runs.find((r) => r.id === id);
  }

  listRuns(): RunSummary[] {
    return [...this.svc.store.data.runs].reverse();
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

  private async execute(summary: RunSummary, targets: Target[], log: RunLog): Promise<RunReport> {
    const results = await mapLimit(targets, this.svc.config.concurrency, async (t) => {
      const r = await this.guestWithGuard(summary, t, log);
      summary.guests[String(r.vmid)] = r.outcome;
      await this.svc.store.upsertRun(summary);
      return r;
    });
    const failed = results.filter((r) => r.outcome === 'failed');
    const refused = results.filter((r) => r.outcome === 'refused');
    summary.state = failed.length > 0 ? 'error' : refused.length > 0 ? 'warnings' : 'ok';
    summary.ended_at = new Date().toISOString();
    if (failed.length > 0) summary.error = `${failed.length} guest(s) failed: ${failed.map((r) => r.vmid).join(', ')}`;
    const report: RunReport = {
      id: summary.id,
      state: summary.state,
      started_at: summary.started_at,
      ended_at: summary.ended_at,
      dry_run: summary.dry_run,
      exclude: summary.exclude,
      guests: results,
    };
    summary.report = join(this.logDir, `${summary.id}.json`);
    writeFileSync(summary.report, `${JSON.stringify(report, null, 1)}\n`, { mode: 0o600 });
    await this.svc.store.upsertRun(summary);
    const counts = ['updated', 'would-update', 'up-to-date', 'skipped', 'refused', 'failed']
      .map((o) => `${results.filter((r) => r.outcome === o).length} ${o}`)
      .join(', ');
    log.write(`summary: ${counts}`);
    log.finish(
      failed.length > 0
        ? `TASK ERROR: ${summary.error}`
        : refused.length > 0
          ? `TASK WARNINGS: ${refused.length}`
          : 'TASK OK',
    );
    return report;
  }

  private async guestWithGuard(summary: RunSummary, target: Target, log: RunLog): Promise<GuestResult> {
    const g = target.guest;
    const label = `${g.type === 'lxc' ? 'CT' : 'VM'} ${g.vmid}`;
    const ctx: GuestContext = {
      svc: this.svc,
      target,
      runId: summary.id,
      dryRun: summary.dry_run,
      securityOnly: summary.security_only ?? false,
      exclude: summary.exclude,
      log: (line) => log.write(`${new Date().toISOString()} ${label}: ${line}`),
      result: { vmid: g.vmid, name: g.name, outcome: 'skipped' },
    };
    const other = this.busy.get(g.vmid);
    if (other && !target.skip_reason) {
      ctx.target = { ...target, skip_reason: `guest is being patched by run ${other}` };
      return runGuest(ctx);
    }
    if (!target.skip_reason) this.busy.set(g.vmid, summary.id);
    try {
      return await runGuest(ctx);
    } catch (err) {
      return { ...ctx.result, outcome: 'failed', reason: errorMessage(err) };
    } finally {
      if (this.busy.get(g.vmid) === summary.id) this.busy.delete(g.vmid);
    }
  }
}

function validateRequest(req: PlanRequest): string[] {
  parseSelector(req.selector);
  return assertPackageNames(req.exclude);
}
