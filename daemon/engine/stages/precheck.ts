import { PvepatchError } from '../../core/errors.js';
import { detectOs } from '../../drivers/detect.js';
import { getDriver } from '../../drivers/index.js';
import { GuestExec } from '../../drivers/shared/guest-exec.js';
import { createTransport } from '../../transports/index.js';
import { done, type GuestContext, type Stage, type StageResult } from '../context.js';
import { parseDfAvailableKb } from '../disk.js';

/** The one exec layer for this guest: its deadline, output caps and log. */
export function guestExec(ctx: GuestContext): GuestExec {
  const { svc, target } = ctx;
  const transport = createTransport(target.transport!, target.guest, {
    pctPath: svc.config.pct,
    localNode: svc.node,
    defaultTimeoutMs: svc.config.exec_timeout * 1000,
  });
  return new GuestExec(transport, {
    log: ctx.log,
    output: ctx.output,
    ...(ctx.outputOpen ? { outputOpen: ctx.outputOpen } : {}),
    deadline: ctx.deadline,
    maxOutputBytes: svc.config.exec_output_max_mb * 1024 * 1024,
    maxLineLength: svc.config.log_line_max,
  });
}

/**
 * Enters the guest and decides whether there is anything to do: reachable, a known package
 * manager, enough free space on /, a sane package database and lock, then the pending updates.
 */
export const precheck: Stage = {
  name: 'precheck',
  async run(ctx) {
    const exec = guestExec(ctx);
    ctx.exec = exec;
    return exec.stage(() => enterAndList(ctx, exec));
  },
};

/** The precheck's work, all in one guest shell session: one round trip for the whole stage. */
async function enterAndList(ctx: GuestContext, exec: GuestExec): Promise<StageResult> {
  const { svc, target } = ctx;
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
  const dctx = { exec, log: ctx.log, lockTimeoutMs: svc.config.lock_timeout * 1000 };
  ctx.driverCtx = dctx;
  ctx.log(
    `os ${ctx.os ?? 'unknown'}, driver ${driver.name}${os.reason ? ` (${os.reason})` : ''}, transport ${exec.transport.name}`,
  );
  await checkFreeSpace(ctx, exec);
  const pre = await driver.precheck(dctx, { fixBroken: svc.config.fix_broken });
  if (!pre.ok)
    throw new PvepatchError('precheck-failed', `unable to patch ${ctx.target.guest.vmid} - ${pre.problems.join('; ')}`);
  await driver.refresh(dctx);
  const all = await driver.listUpdates(dctx, { exclude: ctx.exclude });
  ctx.updates = all.filter((u) => !ctx.exclude.includes(u.package) && (!ctx.securityOnly || u.security));
  ctx.result.packages = ctx.updates;
  ctx.result.exclusions = ctx.exclude.filter((name) => all.some((u) => u.package === name));
  if (ctx.updates.length === 0) {
    const reason = ctx.securityOnly && all.length > 0 ? 'no security updates' : 'nothing to update';
    return { status: 'halt', outcome: 'up-to-date', reason };
  }
  ctx.log(
    `${ctx.updates.length} update(s): ${ctx.updates.map((u) => `${u.package} ${u.current_version ?? '(new)'} -> ${u.new_version}`).join(', ')}`,
  );
  if (ctx.dryRun) return { status: 'halt', outcome: 'would-update', reason: 'dry run' };
  return done;
}

async function checkFreeSpace(ctx: GuestContext, exec: GuestExec): Promise<void> {
  const min = ctx.svc.config.min_free_mb;
  if (min === 0) return;
  const res = await exec.run(['df', '-Pk', '/']);
  const kb = res.exitCode === 0 ? parseDfAvailableKb(res.stdout) : null;
  if (kb === null) {
    const said = (res.stderr.trim() || res.stdout.trim()).split('\n')[0]?.slice(0, 200) ?? '';
    throw new PvepatchError('precheck-failed', `unable to read free space on / - df said: ${said}`);
  }
  if (kb / 1024 < min) {
    throw new PvepatchError(
      'precheck-failed',
      `unable to patch - only ${Math.floor(kb / 1024)} MB free on / (minimum ${min} MB, min_free_mb)`,
    );
  }
}
