/**
 * Rollouts over the API: POST /rollouts starts one (the caller's privileges decide which guests it
 * may patch), GET /rollouts and /rollouts/:id show them (node-wide: Sys.Audit over HTTPS),
 * /rollouts/:id/events streams them, POST /rollouts/:id/{pause,resume,cancel} steer them (the
 * caller must be allowed to run on every guest of the rollout).
 */
import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import { PvepatchError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import { resolveTargets } from '../engine/targets.js';
import type { EngineServices } from '../engine/types.js';
import type { RolloutManager } from '../rollouts/manager.js';
import type { RolloutOptions } from '../rollouts/types.js';
import type { Access } from './app.js';
import { streamEvents } from './events-stream.js';

const Threshold = z.union([
  z.number().int().min(0).max(100_000),
  z
    .string()
    .regex(/^\d{1,3}%$/, "a count (2) or a percentage ('10%')")
    .refine((s) => Number(s.slice(0, -1)) <= 100, 'at most 100%'),
]);
const Start = z.strictObject({
  selector: z.array(z.string().max(200)).min(1).max(1000),
  canary: z.number().int().min(0).max(10_000).default(0),
  batch: z.number().int().min(1).max(10_000).default(1),
  max_failures: Threshold.default(0),
  tag_order: z.array(z.string().max(64)).max(100).default([]),
  exclude: z.array(z.string().max(200)).max(1000).default([]),
  security_only: z.boolean().default(false),
  reboot: z.enum(['never', 'if-required', 'always']).optional(),
  on_failure: z.enum(['keep', 'rollback']).optional(),
});

export function registerRolloutRoutes(
  r: Router,
  deps: { engine: Engine; svc: EngineServices; rollouts: RolloutManager; access: Access; nodeWide?: RequestHandler },
): void {
  const { engine, svc, rollouts, access } = deps;
  if (deps.nodeWide) r.get(['/rollouts', '/rollouts/:id', '/rollouts/:id/events'], deps.nodeWide);
  /** The caller must be allowed to run on every guest of the rollout to steer it. */
  const mayRun = async (req: Request, res: Response, id: string) => {
    const ro = rollouts.get(id);
    const targets = await resolveTargets(
      svc,
      ro.guests.map((g) => String(g.vmid)),
    );
    const checked = await access.authorize(req, res, 'run')(targets);
    const no = checked.filter((t) => t.skip_reason?.startsWith('not permitted'));
    if (no.length > 0 || checked.length < targets.length)
      throw new PvepatchError(
        'forbidden',
        `permission denied - ${no.map((t) => t.skip_reason).join('; ') || 'not every guest of the rollout is visible to you'}`,
      );
  };

  r.post('/rollouts', async (req, res) => {
    const b = Start.parse(req.body ?? {});
    const opts: RolloutOptions = {
      selector: b.selector,
      canary: b.canary,
      batch: b.batch,
      max_failures:
        typeof b.max_failures === 'number'
          ? { count: b.max_failures }
          : { percent: Number(b.max_failures.slice(0, -1)) },
      tag_order: b.tag_order,
      exclude: b.exclude,
      security_only: b.security_only,
      ...(b.reboot ? { reboot: b.reboot } : {}),
      ...(b.on_failure ? { on_failure: b.on_failure } : {}),
    };
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
      await mayRun(req, res, id);
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
