/**
 * The pacman upgrade: one full-system transaction (`pacman -Su`) against the databases the last
 * refresh fetched. Exclusions are `--ignore` arguments of that one command, so nothing is held
 * between commands and nothing needs restoring (recordHolds is never called). The admin's
 * IgnorePkg/IgnoreGroup are read and reported; pacman applies them by itself. The result is read
 * back from `pacman -Q`, not from pacman's output.
 */
import { PvepatchError } from '../../core/errors.js';
import { assertPackageNames } from '../../core/validate.js';
import type { ChangedPackage, DriverContext, UpgradeOptions, UpgradeResult } from '../types.js';
import { KERNEL_PACKAGES, upgradeCommand } from './commands.js';
import { diffVersions, newConffiles, type PlannedPackage, parsePacnewWarnings } from './parse.js';
import * as step from './steps.js';

export const DEFAULT_UPGRADE_TIMEOUT_MS = 15 * 60_000;

const KERNELS: ReadonlySet<string> = new Set(KERNEL_PACKAGES);

/** Arch has no security metadata: a security-only run is refused rather than silently doing nothing. */
export function refuseSecurityOnly(): PvepatchError {
  return new PvepatchError(
    'driver-unsupported',
    'unable to upgrade security updates only - Arch Linux repositories carry no security metadata ' +
      '(arch-audit advisories are not consulted); run without security-only',
  );
}

export async function upgrade(base: DriverContext, opts: UpgradeOptions): Promise<UpgradeResult> {
  const exclude = assertPackageNames(opts.exclude);
  if (opts.securityOnly) throw refuseSecurityOnly();
  const ctx: DriverContext = opts.log ? { ...base, log: opts.log } : base;
  const adminHolds = await step.readAdminHolds(ctx);
  const before = await step.readVersions(ctx);
  if (opts.dryRun) return dryRun(ctx, exclude, before, adminHolds);

  const conffilesBefore = await step.readConffiles(ctx);
  const res = await step.runLocked(ctx, 'upgrade packages', upgradeCommand(exclude), {
    timeoutMs: opts.timeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS,
    stream: true,
  });
  if (res.exitCode !== 0) throw step.pacmanFailure('upgrade packages', res);
  const output = `${res.stdout}${res.stderr}`;
  const after = await step.readVersions(ctx);
  const changed = diffVersions(before, after);
  const reboot = withKernels(await step.readReboot(ctx, after), changed);
  const pacnew = new Set([
    ...newConffiles(conffilesBefore, await step.readConffiles(ctx)),
    ...parsePacnewWarnings(output),
  ]);
  return {
    changed,
    rebootRequired: reboot.required,
    rebootPackages: reboot.packages,
    conffilesPending: [...pacnew].sort(),
    servicesToRestart: [],
    adminHolds,
    output,
  };
}

/** A kernel package that changed in this run needs a reboot, whatever the running kernel says. */
function withKernels(
  reboot: { required: boolean; packages: string[] },
  changed: ChangedPackage[],
): { required: boolean; packages: string[] } {
  const kernels = changed.filter((c) => KERNELS.has(c.package) && c.after !== null).map((c) => c.package);
  const packages = [...new Set([...reboot.packages, ...kernels])];
  return { required: reboot.required || kernels.length > 0, packages };
}

/**
 * What the upgrade would change, from `pacman -Su --print` with the same `--ignore`s: reads only,
 * takes no lock. A kernel package in the plan marks the reboot the real run would need.
 */
async function dryRun(
  ctx: DriverContext,
  exclude: string[],
  installed: Map<string, string>,
  adminHolds: string[],
): Promise<UpgradeResult> {
  const { plan, output } = await step.readPlan(ctx, exclude);
  const changed = planned(plan, installed);
  const reboot = withKernels(await step.readReboot(ctx, installed), changed);
  return {
    changed,
    rebootRequired: reboot.required,
    rebootPackages: reboot.packages,
    conffilesPending: [],
    servicesToRestart: [],
    adminHolds,
    output,
  };
}

function planned(plan: Map<string, PlannedPackage>, installed: Map<string, string>): ChangedPackage[] {
  return [...plan].map(([name, p]) => ({ package: name, before: installed.get(name) ?? null, after: p.version }));
}
