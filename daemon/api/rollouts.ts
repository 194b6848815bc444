/**
 * Rollouts over the API: POST /rollouts starts one (the caller's privileges decide which guests it
 * may patch), GET /rollouts and /rollouts/:id show them (node-wide: Sys.Audit over HTTPS),
 * /rollouts/:id/events streams them, POST /rollouts/:id/{pause,resume,cancel} steer them (the
 * caller must be allowed to run on every guest of the rollout).
 */
import type { RequestHandler, Router } from 'express';
import type { Engine } from '../engine/engine.js';
import type { EngineServices } from '../engine/types.js';
import type { RolloutManager } from '../rollouts/manager.js';
import { RolloutStart, rolloutOptions } from '../rollouts/options.js';
import type { Access } from './app.js';
import { streamEvents } from './events-stream.js';
import { requireRunOnAll } from './run-on-all.js';

export function registerRolloutRoutes(
  r: Router,
  deps: { engine: Engine; svc: EngineServices; rollouts: RolloutManager; access: Access; nodeWide?: RequestHandler },
): void {
  const { engine, svc, rollouts, access } = deps;
  if (deps.nodeWide) r.get(['/rollouts', '/rollouts/:id', '/rollouts/:id/events'], deps.nodeWide);

  r.post('/rollouts', async (req, res) => {
    const { selector, not_after, plan, ...policy } = RolloutStart.parse(req.body ?? {});
    const opts = rolloutOptions(policy, selector, not_after ? new Date(not_after) : undefined, plan);
    const ro = await rollouts.create(opts, access.caller(req, res), access.authorize(req, res, 'run'));
    res.status(202).json({ data: ro });
  });
  r.get('/rollouts', (_req, res) => {
    res.json({ data: rollouts.store.list() });
  });
  r.get('/rollouts/:id', (req, res) => {
    res.json({ data: rollouts.get(String(req.params.id)) });
  });
  r.get('/rollouts/:id/events', (req, res) => {
    const id = String(req.params.id);
    rollouts.get(id); // 404 for an unknown one
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
