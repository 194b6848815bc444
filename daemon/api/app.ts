import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.js';
import { auditMutations, connectionCaller, registerAuditRoutes } from '../audit/middleware.js';
import type { ClusterView } from '../cluster/types.js';
import { isPvepatchError, PvepatchError } from '../core/errors.js';
import { checkAgent, ensureAgent } from '../engine/agent-ops.js';
import type { Authorize, Engine } from '../engine/engine.js';
import { unreachableRow } from '../engine/fleet.js';
import { mapLimit } from '../engine/pool.js';
import { pendingReboots } from '../engine/reboot-window.js';
import { resolveTargets } from '../engine/targets.js';
import type { EngineServices, Target } from '../engine/types.js';
import { RequestHistogram, registerMetricsRoute, requestTimer } from '../metrics/metrics.js';
import type { RolloutManager } from '../rollouts/manager.js';
import { registerBackupRoutes } from './backups.js';
import { type ClusterRouting, clusterHooks } from './cluster-routes.js';
import { streamEvents } from './events-stream.js';
import { registerExceptionRoutes } from './exceptions.js';
import { HTTP_STATUS } from './http-status.js';
import { withNextSchedule } from './next-schedule.js';
import { type NotificationRoutes, registerNotificationRoutes } from './notifications.js';
import { registerPermissionRoutes } from './permissions.js';
import { registerPlanRoutes } from './plans.js';
import { registerRolloutRoutes } from './rollouts.js';
import { registerScheduleRoutes, type ScheduleRoutes } from './schedules.js';
import { registerSettingsRoutes, type SettingsRoutes } from './settings.js';

const Selector = z.array(z.string().max(200)).max(1000);
const PlanBody = z.strictObject({
  selector: Selector,
  exclude: z.array(z.string().max(200)).max(1000).default([]),
  dry_run: z.boolean().default(false),
  security_only: z.boolean().default(false),
  reboot: z.enum(['never', 'if-required', 'always']).optional(),
  on_failure: z.enum(['keep', 'rollback']).optional(),
  /** POST /runs: an approved saved plan (its guests replace the selector). */
  plan: z.string().max(80).optional(),
});
const PageQuery = z.object({
  start: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
});
const LogQuery = z.object({
  start: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(100_000).default(50_000),
});

export const API_VERSION = 'v1';

/** How long one fleet answer serves the same caller and selector (plan ages are in whole seconds). */
const FLEET_ANSWER_MS = 1000;

/** Who asks: the unix socket is root-only, so its callers are root@pam; the CLI says it is the CLI. */
export interface Caller {
  user: string;
  trigger: 'cli' | 'api';
}

/**
 * Who the caller is and what Proxmox lets them do. The unix socket's callers are root@pam and may do
 * everything; the HTTPS API's are whoever their Proxmox ticket or token says, with their privileges.
 */
export interface Access {
  caller(req: Request, res: Response): Caller;
  /** The guests the caller may see (VM.Audit). */
  visible(req: Request, res: Response, targets: Target[]): Target[] | Promise<Target[]>;
  /** For plan/run/agent: the targets, the ones the caller may not touch marked skipped with the missing privilege. */
  authorize(req: Request, res: Response, action: GuestAction): Authorize;
  /** For each need, whether the caller holds the privilege on the path (`/vms/<vmid>`, `/pool/<pool>`, `/vms`). */
  allowed(req: Request, res: Response, needs: PathNeed[]): boolean[] | Promise<boolean[]>;
}

export interface PathNeed {
  path: string;
  priv: string;
}

export type GuestAction = 'plan' | 'run' | 'agent';

/** root@pam over the root-only unix socket. */
export const ROOT_ACCESS: Access = {
  caller: (req) => ({ user: 'root@pam', trigger: req.get('x-pvepatch-client') === 'cli' ? 'cli' : 'api' }),
  visible: (_req, _res, targets) => targets,
  authorize: () => (targets) => targets,
  allowed: (_req, _res, needs) => needs.map(() => true),
};

export interface AppOptions {
  access?: Access;
  audit?: AuditLog;
  /** One histogram shared by every listener. */
  requests?: RequestHistogram;
  /** Guards for node-wide reads (audit, metrics) on this listener. */
  nodeWide?: RequestHandler;
  /** Middleware in front of the routes (authentication, CORS, headers, rate limits). */
  front?: RequestHandler[];
  /** The daemon's schedules with this listener's guards (absent: no such routes). */
  schedules?: ScheduleRoutes;
  /** The notification channels with this listener's guards (absent: no such routes). */
  notifications?: NotificationRoutes;
  /** The daemon's rollouts (absent: no such routes). */
  rollouts?: RolloutManager;
  /** GET/PUT /settings with this listener's guards (the daemon's config; absent: no such routes). */
  settings?: SettingsRoutes;
  /** The other nodes' daemons (absent: a single node, everything is served here). */
  cluster?: ClusterRouting;
  /** GET /cluster: this node's view of the cluster (leader, quorum, which nodes run a daemon). */
  clusterView?: () => Promise<ClusterView>;
}

/** The daemon's REST API (the same routes on the unix socket and over HTTPS). Answers are `{data}` or `{error}`. */
export function createApp(
  engine: Engine,
  svc: EngineServices,
  version: string,
  opts: AppOptions = {},
): express.Express {
  const access = opts.access ?? ROOT_ACCESS;
  const app = express();
  app.disable('x-powered-by');
  const requests = opts.requests ?? new RequestHistogram();
  app.use(requestTimer(requests));
  // first, so that requests refused by authentication or with a broken body are recorded too
  if (opts.audit) app.use(auditMutations(opts.audit, { callerOf: connectionCaller }));
  for (const h of opts.front ?? []) app.use(h);
  app.use(express.json({ limit: '64kb' }));
  const r = express.Router();
  const cluster = opts.cluster ? clusterHooks({ cluster: opts.cluster, engine, svc, access }) : undefined;
  if (opts.nodeWide) r.use(['/audit', '/metrics'], opts.nodeWide);
  if (opts.audit) registerAuditRoutes(r, opts.audit);
  if (opts.settings) registerSettingsRoutes(r, opts.settings);
  registerPermissionRoutes(r, svc, access);
  const clusterView = opts.clusterView;
  if (clusterView) r.get('/cluster', async (_req, res) => void res.json({ data: await clusterView() }));
  if (svc.exceptions) registerExceptionRoutes(r, svc.exceptions, access);
  if (svc.backups) registerBackupRoutes(r, svc.backups, access);
  if (svc.plans) registerPlanRoutes(r, { engine, svc, plans: svc.plans, access });
  if (opts.schedules) registerScheduleRoutes(r, opts.schedules, (req, res) => access.caller(req, res).user);
  if (opts.notifications) registerNotificationRoutes(r, opts.notifications);
  if (opts.rollouts) registerRolloutRoutes(r, { engine, svc, rollouts: opts.rollouts, access });
  registerMetricsRoute(r, {
    version,
    runs: () => svc.store.runs,
    reboots: () => svc.store.data.reboots,
    plans: () => engine.plans.all(),
    requests,
  });
  r.get('/version', (_req, res) => {
    res.json({ data: { version, api: API_VERSION, node: svc.node } });
  });
  const guestRow = (t: Target) => ({ ...t.guest, transport: t.transport, skip_reason: t.skip_reason });
  r.get('/guests', async (req, res) => {
    const selector = Selector.parse([].concat((req.query.selector as never) ?? 'all'));
    const local = async (sel: string[]) =>
      (await access.visible(req, res, await resolveTargets(svc, sel))).map(guestRow);
    const data = cluster
      ? await cluster.rows(req, res, selector, {
          path: '/guests',
          local,
          down: (t, reason) => ({ ...guestRow(t), transport: null, skip_reason: reason, unreachable: reason }),
        })
      : await local(selector);
    res.json({ data });
  });
  // the overview a page polls: one answer per caller and selector serves a second of requests
  const fleetAnswers = new Map<string, { at: number; body: string }>();
  r.get('/fleet', async (req, res) => {
    const selector = Selector.parse([].concat((req.query.selector as never) ?? 'all'));
    // a forwarded request is answered from this node's guests only: another answer than a direct one's
    const scope = cluster?.forwarded(req) === false ? 'cluster' : 'node';
    const key = `${access.caller(req, res).user}\n${scope}\n${selector.join(' ')}\n${engine.plans.version}:${svc.store.runs.version}`;
    const now = Date.now();
    let hit = fleetAnswers.get(key);
    if (!hit || now - hit.at >= FLEET_ANSWER_MS) {
      const local = (sel: string[]) => engine.fleet(sel, (t) => access.visible(req, res, t));
      const rows = cluster
        ? await cluster.rows(req, res, selector, { path: '/fleet', local, down: unreachableRow })
        : await local(selector);
      const data = opts.schedules ? withNextSchedule(rows, opts.schedules.service.list()) : rows;
      hit = { at: now, body: JSON.stringify({ data }) };
      if (fleetAnswers.size >= 100) fleetAnswers.clear(); // stale versions and many callers
      fleetAnswers.set(key, hit);
    }
    res.type('application/json').send(hit.body);
  });
  r.post('/fleet/refresh', async (req, res) => {
    const body = z.strictObject({ selector: Selector }).parse(req.body ?? {});
    await engine.plan({ selector: body.selector, exclude: [] }, access.authorize(req, res, 'plan'));
    res.json({ data: await engine.fleet(body.selector, (t) => access.visible(req, res, t), { fresh: true }) });
  });
  r.post('/plan', async (req, res) => {
    const body = PlanBody.parse(req.body ?? {});
    if (await cluster?.plan(req, res, body)) return;
    res.json({ data: await engine.plan(body, access.authorize(req, res, 'plan')) });
  });
  r.post('/runs', async (req, res) => {
    const body = PlanBody.parse(req.body ?? {});
    if (await cluster?.run(req, res, body)) return;
    res
      .status(202)
      .json({ data: await engine.startRun(body, access.caller(req, res), access.authorize(req, res, 'run')) });
  });
  r.post('/agent/:action', async (req, res) => {
    const action = z.enum(['check', 'ensure']).parse(req.params.action);
    const body = z.strictObject({ selector: Selector }).parse(req.body ?? {});
    const targets = await access.authorize(req, res, 'agent')(await resolveTargets(svc, body.selector));
    const vms = targets.filter((t) => t.guest.type === 'qemu' && !t.skip_reason?.startsWith('not permitted'));
    const op = action === 'check' ? checkAgent : ensureAgent;
    res.json({ data: await mapLimit(vms, svc.config.concurrency, (t) => op(svc, t)) });
  });
  r.get('/reboots', async (req, res) => {
    const q = z.object({ status: z.enum(['pending', 'all']).default('all') }).parse(req.query);
    const recs = q.status === 'pending' ? pendingReboots(svc.store.data.reboots) : [...svc.store.data.reboots];
    const ok = await access.allowed(
      req,
      res,
      recs.map((r) => ({ path: `/vms/${r.vmid}`, priv: 'VM.Audit' })),
    );
    res.json({ data: recs.filter((_, i) => ok[i]).reverse() });
  });
  // what a backup hook asks before a backup of the guest starts (VM.Audit on it over HTTPS)
  r.get('/guests/:vmid/patching', async (req, res) => {
    const vmid = z.coerce.number().int().min(100).max(999_999_999).parse(req.params.vmid);
    const [ok] = await access.allowed(req, res, [{ path: `/vms/${vmid}`, priv: 'VM.Audit' }]);
    if (!ok) throw new PvepatchError('forbidden', `permission denied - VM.Audit on /vms/${vmid} is needed`);
    const p = engine.patching(vmid);
    res.json({ data: { vmid, patching: p !== undefined, ...(p ?? {}) } });
  });
  r.get('/runs', async (req, res) => {
    const q = PageQuery.extend({ vmid: z.coerce.number().int().min(100).max(999_999_999).optional() }).parse(req.query);
    if (await cluster?.runList(req, res, q)) return;
    if (q.vmid !== undefined) {
      // one guest's history (its Updates tab): VM.Audit on it
      const [ok] = await access.allowed(req, res, [{ path: `/vms/${q.vmid}`, priv: 'VM.Audit' }]);
      if (!ok) throw new PvepatchError('forbidden', `permission denied - VM.Audit on /vms/${q.vmid} is needed`);
      const rows = svc.store.runs.historyOf(q.vmid);
      res.json({ data: rows.slice(q.start, q.start + q.limit), total: rows.length });
      return;
    }
    const { total, rows } = engine.listRuns(q.start, q.limit);
    res.json({ data: rows, total });
  });
  cluster?.registerRunRoutes(r);
  r.get('/runs/:id', (req, res) => {
    const run = engine.getRun(req.params.id!);
    if (!run) throw new PvepatchError('not-found', `no run '${req.params.id}' - see 'pvepatch runs'`);
    res.json({ data: run });
  });
  r.post('/runs/:id/cancel', (req, res) => {
    res.json({ data: engine.cancel(req.params.id!, access.caller(req, res).user) });
  });
  r.get('/runs/:id/events', (req, res) => {
    const id = String(req.params.id);
    const run = engine.getRun(id);
    if (!run) throw new PvepatchError('not-found', `no run '${id}' - see 'pvepatch runs'`);
    // ended long ago (its history is gone): the final state from the store
    streamEvents(engine.events, req, res, id, () => ({ type: 'run-finished', run: engine.getRun(id) ?? run }));
  });
  r.get('/runs/:id/report', async (req, res) => {
    res.json({ data: await engine.readReport(req.params.id!) });
  });
  r.get('/runs/:id/log', (req, res) => {
    const q = LogQuery.parse(req.query);
    const { total, lines } = engine.readLog(req.params.id!, q.start, q.limit);
    res.json({ data: lines, total });
  });
  app.use(`/api/${API_VERSION}`, r);
  app.use((req, _res, next) => next(new PvepatchError('not-found', `no such API path '${req.method} ${req.path}'`)));
  app.use(errorHandler);
  return app;
}

function errorHandler(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  if (err instanceof z.ZodError) {
    const problems = err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    res.status(400).json({ error: { code: 'input-invalid', message: `invalid request - ${problems}` } });
    return;
  }
  if ((err as { type?: string }).type === 'entity.parse.failed') {
    res.status(400).json({ error: { code: 'input-invalid', message: 'invalid request - body is not valid JSON' } });
    return;
  }
  const e = isPvepatchError(err) ? err : new PvepatchError('internal', `internal error - ${(err as Error).message}`);
  res.status(HTTP_STATUS[e.code]).json({ error: { code: e.code, message: e.message } });
}
