/**
 * GET /permissions: what the caller may do, as the daemon will judge it - so a user interface can
 * hide or disable an action instead of guessing from the browser. Per visible guest whether it may be
 * planned and patched (and, if not, the missing privilege), plus the node-wide rights: Sys.Audit on
 * `/` (runs, rollouts, schedules, audit) and Sys.Modify on `/` (schedules, settings). The answer is
 * advice; every action is checked again when it is asked for.
 */
import type { Router } from 'express';
import { isPvepatchError } from '../core/errors.js';
import { resolveTargets } from '../engine/targets.js';
import type { EngineServices } from '../engine/types.js';
import type { Access } from './app.js';

export interface GuestPermission {
  vmid: number;
  /** Plan and patch (VM.Snapshot and VM.PowerMgmt, plus the agent privilege over the guest agent). */
  run: boolean;
  /** Why not, when run is false. */
  run_refused?: string;
  /** Change the guest's package exceptions (VM.Config.Options). */
  exceptions: boolean;
}

export function registerPermissionRoutes(r: Router, svc: EngineServices, access: Access): void {
  r.get('/permissions', async (req, res) => {
    const targets = await access.visible(req, res, await resolveTargets(svc, ['all']));
    let judged = targets;
    try {
      judged = await access.authorize(req, res, 'run')(targets);
    } catch (err) {
      // refused on every guest: each is marked with the same reason
      if (!isPvepatchError(err) || err.code !== 'forbidden') throw err;
      judged = targets.map((t) => ({ ...t, skip_reason: `not permitted - ${err.message}` }));
    }
    const [sysAudit, sysModify, ...options] = await access.allowed(req, res, [
      { path: '/', priv: 'Sys.Audit' },
      { path: '/', priv: 'Sys.Modify' },
      ...judged.map((t) => ({ path: `/vms/${t.guest.vmid}`, priv: 'VM.Config.Options' })),
    ]);
    const guests: GuestPermission[] = judged.map((t, i) => {
      const refused = t.skip_reason?.startsWith('not permitted') ? t.skip_reason : undefined;
      return {
        vmid: t.guest.vmid,
        run: refused === undefined,
        ...(refused ? { run_refused: refused } : {}),
        exceptions: options[i] === true,
      };
    });
    res.json({ data: { user: access.caller(req, res).user, sys_audit: sysAudit, sys_modify: sysModify, guests } });
  });
}
