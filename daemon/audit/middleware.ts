import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import { type AuditLog, type AuditVia, MAX_AUDIT_READ_LIMIT } from './audit-log.js';

/** Who made a request and how it reached the daemon. */
export interface AuditCaller {
  user: string;
  via: AuditVia;
  source: string;
}

export interface AuditMiddlewareOptions {
  callerOf: (req: Request, res: Response) => AuditCaller;
  /** Told when an entry could not be written (the request itself is not affected). */
  onError?: (err: unknown) => void;
}

/**
 * A caller from the connection and what authentication left on the response: a unix-socket request
 * (no remote address) is root@pam via the socket; a TCP one is via https from its remote address,
 * as the API token id or userid of `res.locals.caller` (set by the HTTPS authentication), else
 * `res.locals.user`, else 'unauthenticated'.
 */
export function connectionCaller(req: Request, res: Response): AuditCaller {
  const addr = req.socket?.remoteAddress;
  const auth = res.locals.caller as { userid?: unknown; tokenid?: unknown } | undefined;
  const user =
    (typeof auth?.tokenid === 'string' && auth.tokenid) ||
    (typeof auth?.userid === 'string' && auth.userid) ||
    (typeof res.locals.user === 'string' && res.locals.user) ||
    undefined;
  if (!addr) return { user: user ?? 'root@pam', via: 'socket', source: 'unix' };
  const fwd = forwardedNote(req);
  return { user: user ?? 'unauthenticated', via: 'https', source: fwd ? `${addr} (${fwd})` : addr };
}

/** A header value as a short, plain word for the log (any caller can set it: attribution only). */
const plainWord = (v: unknown): string =>
  typeof v === 'string' ? v.slice(0, 64).replace(/[^A-Za-z0-9@.!_-]/g, '?') : '';

/**
 * Another node's daemon forwarded the request (cluster mode): which node, and for whom when it
 * forwarded with its own token for root on its socket. The user audited stays the one Proxmox
 * authenticated.
 */
function forwardedNote(req: Request): string | undefined {
  const by = plainWord(req.headers['x-pvepatch-forwarded-by']);
  if (!by) return undefined;
  const behalf = plainWord(req.headers['x-pvepatch-on-behalf']);
  return `forwarded by node ${by}${behalf ? ` for ${behalf}` : ''}`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The action name of a request: known routes have a dotted name, others `<method> <route>`. */
export function actionOf(
  method: string,
  route: string | undefined,
  params: Record<string, string>,
  path?: string,
): string {
  const m = method.toUpperCase();
  if (m === 'POST' && route === '/runs') return 'run.start';
  if (m === 'POST' && route === '/runs/:id/cancel') return 'run.cancel';
  if (m === 'DELETE' && route === '/runs/:id') return 'run.cancel';
  if (m === 'POST' && route === '/plan') return 'plan.refresh';
  if (m === 'POST' && route === '/plans') return 'plan.save';
  if (m === 'POST' && route === '/plans/:id/approve') return 'plan.approve';
  if (m === 'DELETE' && route === '/plans/:id') return 'plan.delete';
  if (m === 'POST' && route === '/agent/:action') return `agent.${params.action === 'ensure' ? 'ensure' : 'check'}`;
  if ((m === 'PUT' || m === 'PATCH' || m === 'POST') && route?.startsWith('/settings')) return 'settings.change';
  if (m === 'POST' && route === '/rollouts') return 'rollout.start';
  if (m === 'POST' && route?.startsWith('/rollouts/:id/')) return `rollout.${route.slice('/rollouts/:id/'.length)}`;
  if (m === 'POST' && route === '/schedules') return 'schedule.create';
  if (m === 'PUT' && route === '/schedules/:id') return 'schedule.update';
  if (m === 'DELETE' && route === '/schedules/:id') return 'schedule.delete';
  if (m === 'POST' && route === '/schedules/:id/run') return 'schedule.run';
  if (m === 'POST' && route === '/notifications/test') return 'notify.test';
  if (m === 'POST' && route === '/backups/result') return 'backup.result';
  if (m === 'POST' && route === '/exceptions') return 'exception.create';
  if (m === 'PUT' && route === '/exceptions/:id') return 'exception.update';
  if (m === 'DELETE' && route === '/exceptions/:id') return 'exception.delete';
  if (route === undefined && path !== undefined) {
    // no route was matched (refused before routing: authentication, a body that is not JSON)
    const known = KNOWN_PATHS.find(([re]) => re.test(path));
    if (known) {
      const match = known[0].exec(path)!;
      return actionOf(m, known[1], { ...(match.groups ?? {}) });
    }
  }
  return `${m.toLowerCase()} ${route ?? 'unmatched'}`;
}

const KNOWN_PATHS: [RegExp, string][] = [
  [/\/runs$/, '/runs'],
  [/\/runs\/(?<id>[^/]+)\/cancel$/, '/runs/:id/cancel'],
  [/\/runs\/(?<id>[^/]+)$/, '/runs/:id'],
  [/\/plan$/, '/plan'],
  [/\/agent\/(?<action>[^/]+)$/, '/agent/:action'],
  [/\/settings$/, '/settings'],
  [/\/exceptions$/, '/exceptions'],
  [/\/rollouts$/, '/rollouts'],
  [/\/schedules$/, '/schedules'],
  [/\/schedules\/(?<id>[^/]+)$/, '/schedules/:id'],
  [/\/schedules\/(?<id>[^/]+)\/run$/, '/schedules/:id/run'],
  [/\/notifications\/test$/, '/notifications/test'],
  [/\/backups\/result$/, '/backups/result'],
  [/\/rollouts\/(?<id>[^/]+)\/pause$/, '/rollouts/:id/pause'],
  [/\/rollouts\/(?<id>[^/]+)\/resume$/, '/rollouts/:id/resume'],
  [/\/rollouts\/(?<id>[^/]+)\/cancel$/, '/rollouts/:id/cancel'],
  [/\/exceptions\/(?<id>[^/]+)$/, '/exceptions/:id'],
  [/\/settings\/[^/]*$/, '/settings'],
];

/**
 * The route parameters of a request, from its matched template and its path (aligned from the
 * end, as the template is relative to where its router is mounted): req.params is gone again once
 * an error has left the router.
 */
export function paramsOf(req: Request): Record<string, string> {
  const own = (req.params ?? {}) as Record<string, string>;
  if (Object.keys(own).length > 0) return own;
  const tmpl = typeof req.route?.path === 'string' ? (req.route.path as string) : undefined;
  if (!tmpl) return {};
  const path = (req.originalUrl ?? req.url).split('?')[0]!.split('/');
  const parts = tmpl.split('/');
  const out: Record<string, string> = {};
  for (let i = 1; i <= parts.length && i <= path.length; i++) {
    const p = parts[parts.length - i]!;
    if (!p.startsWith(':')) continue;
    try {
      out[p.slice(1).replace(/\?$/, '')] = decodeURIComponent(path[path.length - i]!);
    } catch {
      out[p.slice(1)] = path[path.length - i]!;
    }
  }
  return out;
}

/** What a request acts on: its run id, its selector or vmids, else the request path. */
export function targetOf(req: Request): string {
  const params = paramsOf(req);
  const url = req.originalUrl ?? req.url;
  const kind = url.includes('/exceptions')
    ? 'exception'
    : url.includes('/rollouts')
      ? 'rollout'
      : url.includes('/schedules')
        ? 'schedule'
        : 'run';
  if (params.id) return `${kind}:${params.id}`;
  const body = req.body as Record<string, unknown> | undefined;
  if (body && typeof body === 'object') {
    for (const key of ['selector', 'vmids', 'vmid', 'target']) {
      const v = body[key];
      if (Array.isArray(v)) return v.map(String).join(' ');
      if (typeof v === 'string' || typeof v === 'number') return String(v);
    }
  }
  return (req.originalUrl ?? req.url).split('?')[0]!;
}

/**
 * Records every mutating request (not GET/HEAD/OPTIONS) once its answer is sent: 'ok' for a 2xx/3xx
 * status, else the `error.code` of the JSON answer (or `http-<status>`); a request whose client went
 * away before the answer is recorded as 'aborted'. Mount it before the routes.
 */
export function auditMutations(audit: AuditLog, opts: AuditMiddlewareOptions): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    let errorCode: string | undefined;
    let errorMessage: string | undefined;
    const json = res.json.bind(res);
    res.json = (body?: unknown) => {
      const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      if (err && typeof err.code === 'string') errorCode = err.code;
      if (err && typeof err.message === 'string') errorMessage = err.message;
      return json(body);
    };
    let done = false;
    const finish = (aborted: boolean) => {
      if (done) return;
      done = true;
      const status = res.statusCode;
      const outcome = aborted ? 'aborted' : status < 400 ? 'ok' : (errorCode ?? `http-${status}`);
      let caller: AuditCaller;
      try {
        caller = opts.callerOf(req, res);
      } catch (err) {
        opts.onError?.(err);
        caller = { user: 'unknown', via: 'socket', source: 'unknown' };
      }
      const routePath = typeof req.route?.path === 'string' ? (req.route.path as string) : undefined;
      audit
        .record({
          user: caller.user,
          via: caller.via,
          source: caller.source,
          action: actionOf(req.method, routePath, paramsOf(req), (req.originalUrl ?? req.url).split('?')[0]),
          target: targetOf(req),
          outcome,
          ...(outcome !== 'ok' && errorMessage ? { detail: errorMessage } : {}),
        })
        .catch((err) => opts.onError?.(err));
    };
    res.on('finish', () => finish(false));
    res.on('close', () => finish(!res.writableFinished));
    next();
  };
}

const Time = z
  .string()
  .max(64)
  .refine(
    (s) => DURATION.test(s) || !Number.isNaN(Date.parse(s)),
    'expected an ISO time or a duration like 30m, 2h, 7d',
  );
const DURATION = /^(\d{1,6})([smhd])$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const AuditQuerySchema = z.object({
  since: Time.optional(),
  until: Time.optional(),
  user: z.string().max(256).optional(),
  action: z
    .string()
    .max(64)
    .regex(/^[A-Za-z0-9._* /:-]+$/)
    .optional(),
  limit: z.coerce.number().int().min(1).max(MAX_AUDIT_READ_LIMIT).default(100),
  start: z.coerce.number().int().min(0).default(0),
});

/** An ISO time as is; a duration (30m, 2h, 7d) as that long before now. */
export function resolveTime(s: string | undefined, now = Date.now()): string | undefined {
  if (s === undefined) return undefined;
  const m = DURATION.exec(s);
  if (m) return new Date(now - Number(m[1]) * UNIT_MS[m[2]!]!).toISOString();
  return new Date(Date.parse(s)).toISOString();
}

/** `GET /audit?since=&until=&user=&action=&limit=&start=` → `{data: entries (newest first), total}`. */
export function registerAuditRoutes(router: Router, audit: AuditLog): void {
  router.get('/audit', async (req, res) => {
    const q = AuditQuerySchema.parse(req.query);
    await audit.flush();
    const { total, entries } = audit.read({
      since: resolveTime(q.since),
      until: resolveTime(q.until),
      user: q.user,
      action: q.action,
      limit: q.limit,
      start: q.start,
    });
    res.json({ data: entries, total });
  });
}
