import { PvepatchError } from '../../core/errors.js';
import { detectOs } from '../../drivers/detect.js';
import { getDriver } from '../../drivers/index.js';
import { done, type Stage } from '../context.js';

/** Detects the OS from os-release (the config's ostype is a hint) and picks the family's driver. */
export const detect: Stage = {
  name: 'detect',
  async run(ctx) {
    const { svc, target } = ctx;
    const exec = ctx.exec!;
    const os = await detectOs(exec, ctx.ostype ? { ostype: ctx.ostype } : {});
    ctx.os = os.prettyName ?? os.id ?? undefined;
    if (!os.family) return { status: 'halt', outcome: 'skipped', reason: os.reason ?? 'unknown operating system' };
    const driver = getDriver(os.family);
    if (!driver) return { status: 'halt', outcome: 'skipped', reason: `no driver for '${os.family}' (os ${os.id})` };
    ctx.driver = driver;
    ctx.result.driver = driver.name;
    if (ctx.securityOnly && driver.securityMetadata === false) {
      throw new PvepatchError(
        'driver-unsupported',
        `unable to patch ${target.guest.vmid} security-only - ${driver.name} publishes no security metadata; run without --security-only`,
      );
    }
    ctx.driverCtx = { exec, log: ctx.log, lockTimeoutMs: svc.config.lock_timeout * 1000 };
    ctx.log(
      `os ${ctx.os ?? 'unknown'}, driver ${driver.name}${os.reason ? ` (${os.reason})` : ''}, transport ${exec.transport.name}`,
    );
    return done;
  },
};
