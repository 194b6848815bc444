import { errorMessage, PvepatchError } from '../../core/errors.js';
import { requestReboot } from '../../proxmox/power.js';
import { waitForTask } from '../../proxmox/tasks.js';
import type { RebootRecord } from '../../store/state.js';
import { waitComeBack } from '../come-back.js';
import { done, type GuestContext, type Stage } from '../context.js';
import { haHold, haRebootReason } from '../ha.js';
import { outsideWindow, rebootDecision } from '../reboot-decision.js';

type Rec = Omit<RebootRecord, 'at'>;

/**
 * Reboots from the hypervisor when the policy asks for it (`POST status/reboot`), then waits for
 * the task, for the uptime to reset and, for a VM, for its agent to answer again, all within the
 * policy's reboot timeout. Every step is recorded: pending → sent → rebooting → completed |
 * failed | timeout. Outside the reboot window the record stays pending and nothing is sent; so it
 * does for a guest the HA manager manages (../ha.md), since a reboot through the API bypasses it.
 */
export const reboot: Stage = {
  name: 'reboot',
  async run(ctx) {
    const { svc, target, policy } = ctx;
    const g = target.guest;
    const deferred = ctx.deferredReboot;
    const decision = deferred
      ? { reboot: true, reason: withoutDeferral(deferred.reason) }
      : rebootDecision(policy, ctx.result.reboot_required ?? false, ctx.result.reboot_packages ?? []);
    if (!decision.reboot) {
      if (ctx.result.reboot_required) ctx.log(`not rebooting: ${decision.reason}`);
      return { status: 'skipped', reason: decision.reason };
    }
    // a deferred reboot goes on in the record its run made (pending -> sent -> ...)
    const rec: Rec = {
      run_id: deferred?.run_id ?? ctx.runId,
      vmid: g.vmid,
      node: g.node,
      type: g.type,
      status: 'pending',
      reason: decision.reason,
    };
    const closed = outsideWindow(svc.config.reboot_window, svc.now?.() ?? new Date());
    if (closed) {
      await record(ctx, { ...rec, reason: `${decision.reason}; deferred - outside the reboot window ${closed}` });
      ctx.log(`reboot deferred: outside the reboot window ${closed} (${decision.reason})`, { essential: true });
      return { status: 'skipped', reason: 'outside the reboot window' };
    }
    const ha = await haHold(ctx);
    if (ha) {
      const why = haRebootReason(ha);
      await record(ctx, { ...rec, reason: `${decision.reason}; deferred - ${why}` });
      ctx.log(`reboot skipped: ${why} (${decision.reason})`, { essential: true });
      return { status: 'skipped', reason: `${ha.sid} is managed by HA` };
    }
    await record(ctx, rec);
    await ctx.exec?.closeSession(); // the reboot ends any guest shell
    const label = `${g.type === 'lxc' ? 'CT' : 'VM'} ${g.vmid}`;
    const deadline = Date.now() + policy.rebootTimeout * 1000;
    ctx.log(`rebooting ${label} from the hypervisor (${decision.reason})`, { essential: true });
    const asked = Date.now();
    let upid: string;
    try {
      upid = await requestReboot(svc.client, g, Math.max(1, Math.round((policy.rebootTimeout * 1000) / 1000)));
    } catch (err) {
      await record(ctx, { ...rec, status: 'failed', error: errorMessage(err) });
      throw err;
    }
    await record(ctx, { ...rec, status: 'sent', upid });
    try {
      const task = await waitForTask(svc.client, upid, {
        timeoutMs: Math.max(1000, deadline - Date.now()),
        what: `reboot ${label}`,
      });
      ctx.timing.tasksMs += task.finishedAt - asked;
    } catch (err) {
      const status = err instanceof PvepatchError && err.code === 'timeout' ? 'timeout' : 'failed';
      await record(ctx, { ...rec, status, upid, error: errorMessage(err) });
      throw withSnapshot(ctx, err);
    }
    await record(ctx, { ...rec, status: 'rebooting', upid });
    try {
      const back = await waitComeBack(ctx, asked, deadline);
      const seconds = Math.round((back - asked) / 100) / 10;
      await record(ctx, { ...rec, status: 'completed', upid, seconds });
      ctx.log(`${label} is back after ${seconds}s`, { essential: true });
    } catch (err) {
      const status = err instanceof PvepatchError && err.code === 'timeout' ? 'timeout' : 'failed';
      await record(ctx, { ...rec, status, upid, error: errorMessage(err) });
      throw withSnapshot(ctx, err);
    }
    return done;
  },
};

async function record(ctx: GuestContext, rec: Rec): Promise<void> {
  await ctx.svc.store.recordReboot(rec);
  ctx.result.reboot = {
    status: rec.status,
    reason: rec.reason,
    ...(rec.upid ? { upid: rec.upid } : {}),
    ...(rec.seconds !== undefined ? { seconds: rec.seconds } : {}),
    ...(rec.error ? { error: rec.error } : {}),
  };
  if (rec.status !== 'pending') ctx.log(`reboot ${rec.status}${rec.error ? `: ${rec.error}` : ''}`);
}

/** A failed reboot names the snapshot to go back to. */
function withSnapshot(ctx: GuestContext, err: unknown): Error {
  const snap = ctx.result.snapshot?.name;
  const g = ctx.target.guest;
  const cmd = g.type === 'lxc' ? 'pct' : 'qm';
  const hint = snap
    ? `; its pre-patch snapshot is '${snap}' (${cmd} rollback ${g.vmid} ${snap})`
    : '; no pre-patch snapshot was taken';
  const code = err instanceof PvepatchError ? err.code : 'patch-failed';
  return new PvepatchError(code, `${errorMessage(err)}${hint}`, { cause: err });
}

/** The reason a deferred record was given, without the note that it was deferred. */
function withoutDeferral(reason: string): string {
  const cut = reason.indexOf('; deferred - ');
  return cut < 0 ? reason : reason.slice(0, cut);
}
