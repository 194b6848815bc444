/**
 * The HTTPS API's caller is whoever their Proxmox ticket or token says, with the privileges
 * pveproxy reports: they see only the guests they have VM.Audit on, and a plan or run refuses the
 * guests they may not touch, naming the missing privilege (403 when that is every guest).
 */
import { isIPv4 } from 'node:net';
import type { Request, RequestHandler, Response } from 'express';
import { PvepatchError } from '../core/errors.js';
import type { Target } from '../engine/types.js';
import { type Access, API_VERSION, type GuestAction } from './app.js';
import { type AuthAction, authCallerOf, checkGuests, hasPriv } from './auth/index.js';

const ACTION: Record<GuestAction, AuthAction> = { plan: 'plan', run: 'run', agent: 'run' };

/** `pveMajor` decides which privilege the guest agent needs (PVE 9 VM.GuestAgent.*, PVE 8 VM.Monitor). */
export function httpsAccess(pveMajor: () => number | undefined): Access {
  const refused = async (res: Response, targets: Target[], action: AuthAction) => {
    const caller = authCallerOf(res);
    const guests = targets.map((t) => ({
      vmid: t.guest.vmid,
      ...(t.guest.pool ? { pool: t.guest.pool } : {}),
      ...(t.transport ? { transport: t.transport } : {}),
    }));
    const major = pveMajor();
    return new Map(
      (await checkGuests(caller, guests, action, major ? { pveMajor: major } : {})).map((r) => [r.vmid, r]),
    );
  };
  return {
    caller: (_req: Request, res: Response) => {
      const c = authCallerOf(res);
      return { user: c.tokenid ?? c.userid, trigger: 'api' };
    },
    visible: async (_req, res, targets) => {
      const hidden = await refused(res, targets, 'read');
      return targets.filter((t) => !hidden.has(t.guest.vmid));
    },
    authorize: (_req, res, action) => async (targets) => {
      const hidden = await refused(res, targets, 'read');
      const seen = targets.filter((t) => !hidden.has(t.guest.vmid));
      const no = await refused(res, seen, ACTION[action]);
      if (seen.length > 0 && no.size === seen.length) {
        throw new PvepatchError(
          'forbidden',
          `permission denied - ${[...no.values()].map((r) => r.message).join('; ')}`,
        );
      }
      return seen.map((t) => {
        const r = no.get(t.guest.vmid);
        return r && !t.skip_reason ? { ...t, transport: null, skip_reason: `not permitted - ${r.message}` } : t;
      });
    },
    allowed: async (_req, res, needs) => {
      const caller = authCallerOf(res);
      // paths PVE's whole map leaves out are asked for exactly (a NoAccess there must not inherit)
      const missing = [...new Set(needs.map((n) => n.path))].filter((p) => !Object.hasOwn(caller.perms, p));
      const perms =
        caller.resolve && missing.length > 0 ? { ...caller.perms, ...(await caller.resolve(missing)) } : caller.perms;
      return needs.map((n) => hasPriv(perms, n.path, n.priv));
    },
  };
}

/**
 * Whether a connection comes from this host: 127.0.0.0/8, ::1 or an IPv4-mapped 127.x. Only the
 * socket's own address counts - never X-Forwarded-For or any other header the client writes.
 */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const lower = address.toLowerCase();
  const v4 = lower.startsWith('::ffff:') ? lower.slice(7) : lower;
  if (isIPv4(v4)) return v4.startsWith('127.');
  return lower === '::1';
}

/** The path of the Prometheus endpoint that `metrics_localhost` opens to loopback callers. */
export const METRICS_PATH = `/api/${API_VERSION}/metrics`;

/**
 * config `metrics_localhost`: a `GET /api/v1/metrics` (exactly; other spellings still need
 * credentials) from a loopback address, while `enabled()` says so. Read per request, so a reload
 * turns it on or off.
 */
export function localMetricsRequest(enabled: () => boolean): (req: Request) => boolean {
  return (req) =>
    enabled() &&
    req.method === 'GET' &&
    (req.originalUrl ?? req.url).split('?')[0] === METRICS_PATH &&
    isLoopback(req.socket.remoteAddress);
}

/** `guard`, except for the requests `skip` lets through. */
export function unless(skip: (req: Request) => boolean, guard: RequestHandler): RequestHandler {
  return (req, res, next) => (skip(req) ? next() : guard(req, res, next));
}
