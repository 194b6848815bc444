import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { isPvepatchError, PvepatchError } from '../core/errors.js';
import { checkAgent, ensureAgent } from '../engine/agent-ops.js';
import type { Engine } from '../engine/engine.js';
import { mapLimit } from '../engine/pool.js';
import { resolveTargets } from '../engine/targets.js';
import type { EngineServices } from '../engine/types.js';
import { HTTP_STATUS } from './http-status.js';

const Selector = z.array(z.string().max(200)).max(1000);
const PlanBody = z.strictObject({
  selector: Selector,
  exclude: z.array(z.string().max(200)).max(1000).default([]),
  dry_run: z.boolean().default(false),
  security_only: z.boolean().default(false),
  reboot: z.enum(['never', 'if-required', 'always']).optional(),
  on_failure: z.enum(['keep', 'rollback']).optional(),
});
const LogQuery = z.object({
  start: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(100_000).default(50_000),
});

export const API_VERSION = 'v1';

/** Who asks: the unix socket is root-only, so its callers are root@pam; the CLI says it is the CLI. */
export interface Caller {
  user: string;
  trigger: 'cli' | 'api';
}

function callerOf(req: Request): Caller {
  return { user: 'root@pam', trigger: req.get('x-pvepatch-client') === 'cli' ? 'cli' : 'api' };
}

/** The daemon's REST API (served on a root-only unix socket). Answers are `{data}` or `{error}`. */
export function createApp(engine: Engine, svc: EngineServices, version: string): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb' }));
  const r = express.Router();
  r.get('/version', (_req, res) => {
    res.json({ data: { version, api: API_VERSION, node: svc.node } });
  });
  r.get('/guests', async (req, res) => {
    const selector = Selector.parse([].concat((req.query.selector as never) ?? 'all'));
    const targets = await resolveTargets(svc, selector);
    res.json({ data: targets.map((t) => ({ ...t.guest, transport: t.transport, skip_reason: t.skip_reason })) });
  });
  r.post('/plan', async (req, res) => {
    const body = PlanBody.parse(req.body ?? {});
    res.json({ data: await engine.plan(body) });
  });
  r.post('/runs', async (req, res) => {
    const body = PlanBody.parse(req.body ?? {});
    res.status(202).json({ data: await engine.startRun(body, callerOf(req)) });
  });
  r.post('/agent/:action', async (req, res) => {
    const action = z.enum(['check', 'ensure']).parse(req.params.action);
    const body = z.strictObject({ selector: Selector }).parse(req.body ?? {});
    const vms = (await resolveTargets(svc, body.selector)).filter((t) => t.guest.type === 'qemu');
    const op = action === 'check' ? checkAgent : ensureAgent;
    res.json({ data: await mapLimit(vms, svc.config.concurrency, (t) => op(svc, t)) });
  });
  r.get('/runs', (_req, res) => {
    res.json({ data: engine.listRuns() });
  });
  r.get('/runs/:id', (req, res) => {
    const run = engine.getRun(req.params.id!);
    if (!run) throw new PvepatchError('not-found', `no run '${req.params.id}' - see 'pvepatch runs'`);
    res.json({ data: run });
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
