/**
 * Rollouts over the API: POST /rollouts starts one (the caller's privileges decide which guests it
 * may patch), GET /rollouts and /rollouts/:id show them, /rollouts/:id/events streams them (all
 * rollouts with Sys.Audit on `/` over HTTPS, else the caller's own - so whoever starts one from the
 * web UI can watch it), POST /rollouts/:id/{pause,resume,cancel} steer them (the
 * caller must be allowed to run on every guest of the rollout).
 */
import type { Request, Response, Router } from 'express';
import { PvepatchError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import type { EngineServices } from '../engine/types.js';
import type { RolloutManager } from '../rollouts/manager.js';
import { RolloutStart, rolloutOptions } from '../rollouts/options.js';
import type { Access } from './app.js';
import { streamEvents } from './events-stream.js';
import { requireRunOnAll } from './run-on-all.js';

export function registerRolloutRoutes(
  r: Router,
  deps: { engine: Engine; svc: EngineServices; rollouts: RolloutManager; access: Access },
): void {
  const { engine, svc, rollouts, access } = deps;
  const seesAll = async (req: Request, res: Response) =>
    (await access.allowed(req, res, [{ path: '/', priv: 'Sys.Audit' }]))[0] === true;
  const mayRead = async (req: Request, res: Response, id: string) => {
    const ro = rollouts.get(id); // 404 for an unknown one
    if (ro.created_by !== access.caller(req, res).user && !(await seesAll(req, res)))
      throw new PvepatchError(
        'forbidden',
        `permission denied - rollout '${id}' is not yours (Sys.Audit on / sees all)`,
      );
    return ro;
  };

  r.post('/rollouts', async (req, res) => {
    const { selector, not_after, plan, ...policy } = RolloutStart.parse(req.body ?? {});
    const opts = rolloutOptions(policy, selector, not_after ? new Date(not_after) : undefined, plan);
    const ro = await rollouts.create(opts, access.caller(req, res), access.authorize(req, res, 'run'));
    res.status(202).json({ data: ro });
  });
  r.get('/rollouts', async (req, res) => {
    const all = rollouts.store.list();
    const user = access.caller(req, res).user;
    res.json({ data: (await seesAll(req, res)) ? all : all.filter((ro) => ro.created_by === user) });
  });
  r.get('/rollouts/:id', async (req, res) => {
    res.json({ data: await mayRead(req, res, String(req.params.id)) });
  });
  r.get('/rollouts/:id/events', async (req, res) => {
    const id = String(req.params.id);
    await mayRead(req, res, id);
    streamEvents(engine.events, req, res, id, () => {
      const ro = rollouts.get(id);
      return {
        type: 'rollout-finished',
        rollout: { id, state: ro.state, group: ro.group, groups: ro.groups, runs: ro.runs },
      };
    });
  });
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    r.post(`/rollouts/:id/${action}`, async (req, res) => {
      const id = String(req.params.id);
      // steering needs the run privileges on every guest of the rollout
      await requireRunOnAll(
        svc,
        access,
        req,
        res,
        rollouts.get(id).guests.map((g) => g.vmid),
        'rollout',
      );
      const caller = access.caller(req, res);
      const ro =
        action === 'pause'
          ? await rollouts.pause(id, caller.user)
          : action === 'resume'
            ? await rollouts.resume(id, caller)
            : await rollouts.cancel(id, caller.user);
      res.json({ data: ro });
    });
  }
}
