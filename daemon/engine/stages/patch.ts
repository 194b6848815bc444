import { done, type Stage } from '../context.js';

/** Upgrades with the guest's own package manager; holds it adds are recorded before they exist. */
export const patch: Stage = {
  name: 'patch',
  async run(ctx) {
    const { svc, target, driver, driverCtx } = ctx;
    const guest = target.guest;
    const res = await driver!.upgrade(driverCtx!, {
      exclude: ctx.exclude,
      securityOnly: ctx.securityOnly,
      timeoutMs: svc.config.upgrade_timeout * 1000,
      fixBroken: svc.config.fix_broken,
      log: ctx.log,
      recordHolds: (holds) =>
        svc.store.setPendingHolds({
          run_id: ctx.runId,
          vmid: guest.vmid,
          node: guest.node,
          driver: driver!.name,
          holds,
        }),
    });
    ctx.result.changed = res.changed;
    ctx.result.reboot_required = res.rebootRequired;
    ctx.result.reboot_packages = res.rebootPackages;
    ctx.result.conffiles_pending = res.conffilesPending;
    for (const c of res.changed) ctx.log(`${c.package}: ${c.before ?? '(none)'} -> ${c.after ?? '(removed)'}`);
    if (res.conffilesPending.length > 0) ctx.log(`config files to review: ${res.conffilesPending.join(', ')}`);
    ctx.log(
      res.rebootRequired
        ? `reboot required (${res.rebootPackages.join(', ') || 'unknown package'})`
        : 'no reboot required',
    );
    return done;
  },
};
