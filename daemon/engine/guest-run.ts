import { errorMessage } from '../core/errors.js';
import type { GuestOutcome } from '../store/state.js';
import type { GuestContext, Stage } from './context.js';
import { gate } from './stages/gate.js';
import { patch } from './stages/patch.js';
import { precheck } from './stages/precheck.js';
import { protect } from './stages/protect.js';
import type { GuestResult } from './types.js';

/**
 * The order of a guest's stages. The gate runs before the guest is entered at all (so a guest
 * under backup is left untouched) and again right before the snapshot, since time has passed.
 */
export const STAGES: readonly Stage[] = [gate, precheck, gate, protect, patch];

/**
 * Until the patch stage starts nothing in the guest has changed (only package lists were
 * refreshed), so any error before it — a gate, a failed snapshot, an unreachable guest or API —
 * leaves the guest "refused" and untouched; an error in the patch stage is "failed".
 */
const TOUCHES_GUEST: ReadonlySet<string> = new Set(['patch']);

/**
 * Runs the stages in order. A stage, once started, runs to its end; a daemon that is stopping
 * starts no further stage and the guest ends "interrupted" where it stands.
 */
export async function runGuest(
  ctx: GuestContext,
  stages: readonly Stage[] = STAGES,
  onStage: (name: string) => void = () => {},
): Promise<GuestResult> {
  if (ctx.target.skip_reason) return finish(ctx, 'skipped', ctx.target.skip_reason);
  for (const stage of stages) {
    if (ctx.stopping()) return finish(ctx, 'interrupted', `daemon stopping - stopped before stage '${stage.name}'`);
    onStage(stage.name);
    try {
      const r = await stage.run(ctx);
      if (r.status === 'halt') return finish(ctx, r.outcome, r.reason);
    } catch (err) {
      const outcome: GuestOutcome = TOUCHES_GUEST.has(stage.name) ? 'failed' : 'refused';
      return finish(ctx, outcome, `${stage.name}: ${errorMessage(err)}`);
    }
  }
  return finish(ctx, 'updated', undefined);
}

function finish(c: GuestContext, outcome: GuestOutcome, reason: string | undefined): GuestResult {
  c.result.outcome = outcome;
  if (reason !== undefined) c.result.reason = reason;
  if (c.exec) c.result.exec = { count: c.exec.execs, guest_ms: c.exec.guestMs };
  c.log(`${outcome}${reason ? `: ${reason}` : ''}`, { essential: true });
  return c.result;
}
