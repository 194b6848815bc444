import { PvepatchError } from '../../core/errors.js';
import { done, type GuestContext, type Stage } from '../context.js';
import type { Verification } from '../types.js';
import { runChecks } from '../verify/checks.js';
import { readFailedUnits } from '../verify/failed-units.js';
import { diffFailed } from '../verify/parse.js';
import { pbsAfterPatch } from './pbs.js';

/**
 * After the patch (and the reboot, when there was one): units failed now that were not before,
 * the policy's checks and, for a Proxmox Backup Server, its services. Any problem fails the guest
 * (and rolls it back under `on-failure: rollback`).
 */
export const verify: Stage = {
  name: 'verify',
  async run(ctx) {
    const v = await verifyGuest(ctx);
    ctx.result.verification = v;
    if (!v.ok) throw new PvepatchError('patch-failed', `verification failed - ${v.problems.join('; ')}`);
    return done;
  },
};

/** Between attempts while a failing guest may still be settling (services starting after a boot). */
const SETTLE_MS = 1000;

/**
 * Verifies, and while something fails retries every second until the policy's check timeout has
 * passed since the first attempt: right after a restart, services may still be starting.
 */
export async function verifyGuest(ctx: GuestContext): Promise<Verification> {
  const until = Date.now() + ctx.policy.checkTimeout * 1000;
  for (;;) {
    const v = await verifyOnce(ctx);
    if (v.ok || Date.now() + SETTLE_MS >= until) {
      for (const c of v.checks) ctx.log(`check ${c.check}: ${c.ok ? 'ok' : 'FAILED'} - ${c.detail}`);
      const nf = v.new_failed_units;
      if (nf) ctx.log(nf.length > 0 ? `newly failed units: ${nf.join(', ')}` : 'no newly failed units');
      return v;
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
  }
}

async function verifyOnce(ctx: GuestContext): Promise<Verification> {
  const { policy } = ctx;
  const exec = ctx.exec!;
  const problems: string[] = [];
  let newFailed: string[] | null = null;
  if (ctx.failedBefore !== undefined && ctx.failedBefore !== null) {
    const now = await readFailedUnits(exec);
    if (now.available) {
      newFailed = diffFailed(ctx.failedBefore, now.units);
      for (const u of newFailed) problems.push(`unit ${u} failed after the patch`);
    } else problems.push(`unable to list failed units after the patch - ${now.reason}`);
  }
  const checks = (
    await runChecks(exec, policy.checks, { address: policy.address, timeoutMs: policy.checkTimeout * 1000 })
  ).map((c) => ({ check: c.check, ok: c.ok, detail: c.detail, ms: c.ms }));
  for (const c of checks) if (!c.ok) problems.push(`check ${c.check}: ${c.detail}`);
  if (policy.role === 'pbs') problems.push(...(await pbsAfterPatch(ctx)));
  for (const c of checks) ctx.log(`check ${c.check}: ${c.ok ? 'ok' : 'FAILED'} - ${c.detail}`);
  if (newFailed)
    ctx.log(newFailed.length > 0 ? `newly failed units: ${newFailed.join(', ')}` : 'no newly failed units');
  return { ok: problems.length === 0, new_failed_units: newFailed, checks, problems };
}
