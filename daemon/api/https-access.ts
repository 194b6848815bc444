/**
 * The HTTPS API's caller is whoever their Proxmox ticket or token says, with the privileges
 * pveproxy reports: they see only the guests they have VM.Audit on, and a plan or run refuses the
 * guests they may not touch, naming the missing privilege (403 when that is every guest).
 */
import type { Request, Response } from 'express';
import { PvepatchError } from '../core/errors.js';
import type { Target } from '../engine/types.js';
import type { Access, GuestAction } from './app.js';
import { type AuthAction, authCallerOf, checkGuests } from './auth/index.js';

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
  };
}
