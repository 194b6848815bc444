import type { Request, Response } from 'express';
import { PvepatchError } from '../core/errors.js';
import { resolveTargets } from '../engine/targets.js';
import type { EngineServices } from '../engine/types.js';
import type { Access } from './app.js';

/**
 * For acts on a whole set of guests (steering a rollout, approving or deleting a saved plan): the
 * caller must be allowed to run on every one of them, else 'forbidden' naming what is missing.
 */
export async function requireRunOnAll(
  svc: EngineServices,
  access: Access,
  req: Request,
  res: Response,
  vmids: readonly number[],
  what: string,
): Promise<void> {
  const targets = await resolveTargets(svc, vmids.map(String));
  const checked = await access.authorize(req, res, 'run')(targets);
  const no = checked.filter((t) => t.skip_reason?.startsWith('not permitted'));
  if (no.length > 0 || checked.length < targets.length)
    throw new PvepatchError(
      'forbidden',
      `permission denied - ${no.map((t) => t.skip_reason).join('; ') || `not every guest of the ${what} is visible to you`}`,
    );
}
