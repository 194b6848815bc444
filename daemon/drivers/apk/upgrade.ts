/**
 * The apk upgrade: exclusions become world pins that pvepatch adds (recorded first, the original
 * world restored in all cases), version constraints the admin set are reported and never touched
 * (the restore puts back the exact original file), and the result is read back from
 * `apk info -v` rather than from apk's output.
 */
import { errorMessage, PvepatchError } from '../../core/errors.js';
import { assertPackageNames } from '../../core/validate.js';
import type { ChangedPackage, DriverContext, UpgradeOptions, UpgradeResult } from '../types.js';
import { upgradeCommand } from './commands.js';
import { isKernelPackage } from './kernel.js';
import { diffVersions, newConffiles } from './parse.js';
import { run } from './run.js';
import * as step from './steps.js';
import { applyPins, readWorld, restoreWorld, adminHolds as worldHolds } from './world.js';

export const DEFAULT_UPGRADE_TIMEOUT_MS = 15 * 60_000;

/** Alpine has no security flag in its indexes (secdb is not consulted): security-only is refused. */
export function refuseSecurityOnly(): PvepatchError {
  return new PvepatchError(
    'driver-unsupported',
    'unable to upgrade security updates only - Alpine package indexes carry no security metadata ' +
      '(the Alpine secdb is not consulted); run without security-only',
  );
}

export async function upgrade(base: DriverContext, opts: UpgradeOptions): Promise<UpgradeResult> {
  const exclude = assertPackageNames(opts.exclude);
  if (opts.securityOnly) throw refuseSecurityOnly();
  const ctx: DriverContext = opts.log ? { ...base, log: opts.log } : base;
  if (!opts.dryRun && (await restoreWorld(ctx)))
    ctx.log?.('warning: restored /etc/apk/world left pinned by an interrupted run');
  const world = await readWorld(ctx);
  const before = await step.readVersions(ctx);
  if (opts.dryRun) return dryRun(ctx, exclude, before, worldHolds(world));

  const conffilesBefore = await step.readConffiles(ctx);
  const pins = new Map<string, string>();
  for (const name of exclude) {
    const version = before.get(name);
    if (version === undefined) ctx.log?.(`${name} is not installed - nothing to keep back`);
    else pins.set(name, version);
  }
  const output = await withWorldPins(ctx, world, pins, opts.recordHolds, () => runUpgrade(ctx, opts));
  const after = await step.readVersions(ctx);
  const changed = diffVersions(before, after);
  const reboot = withKernels(await step.readReboot(ctx, after), changed);
  return {
    changed,
    rebootRequired: reboot.required,
    rebootPackages: reboot.packages,
    conffilesPending: newConffiles(conffilesBefore, await step.readConffiles(ctx)),
    servicesToRestart: [],
    adminHolds: worldHolds(world),
    output,
  };
}

async function runUpgrade(ctx: DriverContext, opts: UpgradeOptions): Promise<string> {
  const wait = step.lockWaitSeconds(ctx);
  const timeoutMs = (opts.timeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS) + wait * 1000;
  const res = await run(ctx, upgradeCommand(wait), { timeoutMs, stream: true });
  if (res.exitCode !== 0) throw await step.apkFailure(ctx, 'upgrade packages', res);
  return `${res.stdout}${res.stderr}`;
}

/**
 * Records the pins, applies them, runs `fn`, then restores the original world and clears the
 * record. When the restore itself fails the record stays (crash recovery restores later); the
 * first error wins.
 */
async function withWorldPins<T>(
  ctx: DriverContext,
  world: string[],
  pins: Map<string, string>,
  record: UpgradeOptions['recordHolds'],
  fn: () => Promise<T>,
): Promise<T> {
  if (pins.size === 0) return fn();
  await record?.([...pins.keys()]);
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    await applyPins(ctx, world, pins);
    outcome = { ok: true, value: await fn() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  try {
    await restoreWorld(ctx);
  } catch (restoreError) {
    if (outcome.ok) throw restoreError;
    ctx.log?.(`warning: ${errorMessage(restoreError)}`);
    throw outcome.error;
  }
  await record?.([]);
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

/** A kernel package that changed in this run needs a reboot, whatever the running kernel says. */
function withKernels(reboot: { required: boolean; packages: string[] }, changed: ChangedPackage[]) {
  const kernels = changed.filter((c) => isKernelPackage(c.package) && c.after !== null).map((c) => c.package);
  return { required: reboot.required || kernels.length > 0, packages: [...new Set([...reboot.packages, ...kernels])] };
}

/**
 * What the upgrade would change, from `apk upgrade --simulate` minus the exclusions; nothing in
 * the guest is touched (no pins are written, so packages held back only because an excluded one
 * is are still listed).
 */
async function dryRun(
  ctx: DriverContext,
  exclude: string[],
  installed: Map<string, string>,
  holds: string[],
): Promise<UpgradeResult> {
  const sim = await step.simulate(ctx);
  const changed: ChangedPackage[] = sim.changes
    .filter((c) => !exclude.includes(c.package))
    .map((c) => ({ package: c.package, before: c.current ?? installed.get(c.package) ?? null, after: c.next }));
  const reboot = withKernels(await step.readReboot(ctx, installed), changed);
  return {
    changed,
    rebootRequired: reboot.required,
    rebootPackages: reboot.packages,
    conffilesPending: [],
    servicesToRestart: [],
    adminHolds: holds,
    output: sim.output,
  };
}
