/**
 * Saved plans over the API: POST /plans saves what a plan says now (the caller may plan every guest
 * in it), GET /plans and /plans/:id show them, POST /plans/:id/approve approves one (someone else
 * than its author, allowed to run on every guest in it), DELETE /plans/:id. `POST /runs` with
 * `plan` runs an approved one.
 */
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { PlanStore } from '../approvals/store.js';
import { PvepatchError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import type { EngineServices } from '../engine/types.js';
import type { Access } from './app.js';
import { requireRunOnAll } from './run-on-all.js';

const Save = z.strictObject({
  selector: z.array(z.string().max(200)).min(1).max(1000),
  security_only: z.boolean().default(false),
});

export function registerPlanRoutes(
  r: Router,
  deps: { engine: Engine; svc: EngineServices; plans: PlanStore; access: Access },
): void {
  const { engine, svc, plans, access } = deps;
  const mayRunAll = (req: Request, res: Response, vmids: number[]) =>
    requireRunOnAll(svc, access, req, res, vmids, 'plan');
  r.post('/plans', async (req, res) => {
    const b = Save.parse(req.body ?? {});
    const planned = await engine.plan(
      { selector: b.selector, exclude: [], security_only: b.security_only },
      access.authorize(req, res, 'plan'),
    );
    res.status(201).json({ data: await plans.save(b.selector, planned, access.caller(req, res).user) });
  });
  r.get('/plans', async (req, res) => {
    const all = plans.list();
    const ok = await access.allowed(
      req,
      res,
      all.flatMap((p) => p.guests.map((g) => ({ path: `/vms/${g.vmid}`, priv: 'VM.Audit' }))),
    );
    let i = 0;
    res.json({ data: all.filter((p) => p.guests.map(() => ok[i++]).every(Boolean)) });
  });
  r.get('/plans/:id', async (req, res) => {
    const p = plans.get(String(req.params.id));
    const ok = await access.allowed(
      req,
      res,
      p.guests.map((g) => ({ path: `/vms/${g.vmid}`, priv: 'VM.Audit' })),
    );
    if (!ok.every(Boolean))
      throw new PvepatchError(
        'forbidden',
        `permission denied - plan '${p.id}' names guests you may not see (VM.Audit)`,
      );
    res.json({ data: p });
  });
  r.post('/plans/:id/approve', async (req, res) => {
    const p = plans.get(String(req.params.id));
    await mayRunAll(
      req,
      res,
      p.guests.map((g) => g.vmid),
    );
    res.json({ data: await plans.approve(p.id, access.caller(req, res).user) });
  });
  r.delete('/plans/:id', async (req, res) => {
    const p = plans.get(String(req.params.id));
    await mayRunAll(
      req,
      res,
      p.guests.map((g) => g.vmid),
    );
    res.json({ data: await plans.remove(p.id) });
  });
}
