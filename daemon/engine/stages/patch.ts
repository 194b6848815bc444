import { done, type GuestContext, type Stage, type StageResult } from '../context.js';
import { containerRebootNeed } from '../reboot-decision.js';

/** Upgrades with the guest's own package manager; holds it adds are recorded before they exist. */
export const patch: Stage = {
  name: 'patch',
  run: (ctx) => ctx.exec!.stage(() => upgrade(ctx)),
};

/** The upgrade and everything read around it, in one guest shell session (one round trip). */
async function upgrade(ctx: GuestContext): Promise<StageResult> {
  const { svc, target, driver, driverCtx } = ctx;
  const guest = target.guest;
  const res = await driver!.upgrade(driverCtx!, {
    exclude: ctx.exclude,
    securityOnly: ctx.securityOnly,
    timeoutMs: svc.config.upgrade_timeout * 1000,
    fixBroken: svc.config.fix_broken,
    ...(ctx.pins ? { pins: ctx.pins } : {}),
    recordHolds: (holds) =>
      svc.store.setPendingHolds({
        run_id: ctx.runId,
        vmid: guest.vmid,
        node: guest.node,
        type: guest.type,
        transport: target.transport!,
        driver: driver!.name,
        holds,
      }),
  });
  let need = { required: res.rebootRequired, packages: res.rebootPackages };
  if (guest.type === 'lxc') {
    const ct = containerRebootNeed(res.rebootRequired, res.rebootPackages);
    if (ct.dropped.length > 0)
      ctx.log(`kernel package(s) ${ct.dropped.join(', ')} need no reboot in a container (it runs the host's kernel)`);
    need = ct;
  }
  Object.assign(ctx.result, {
    changed: res.changed,
    reboot_required: need.required,
    reboot_packages: need.packages,
    conffiles_pending: res.conffilesPending,
    services_to_restart: res.servicesToRestart,
    admin_holds: res.adminHolds,
  });
  for (const c of res.changed) ctx.log(`${c.package}: ${c.before ?? '(none)'} -> ${c.after ?? '(removed)'}`);
  if (res.adminHolds.length > 0) ctx.log(`admin holds left in place: ${res.adminHolds.join(', ')}`);
  if (res.conffilesPending.length > 0) ctx.log(`config files to review: ${res.conffilesPending.join(', ')}`);
  if (res.servicesToRestart.length > 0) ctx.log(`services to restart: ${res.servicesToRestart.join(', ')}`);
  ctx.log(need.required ? `reboot required (${need.packages.join(', ') || 'unknown package'})` : 'no reboot required');
  return done;
}
