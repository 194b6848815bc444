/**
 * The pacman upgrade: one full-system transaction (`pacman -Su`) against the databases the last
 * refresh fetched. Exclusions are `--ignore` arguments of that one command, so nothing is held
 * between commands and nothing needs restoring (recordHolds is never called). The admin's
 * IgnorePkg/IgnoreGroup are read and reported; pacman applies them by itself. The result is read
 * back from `pacman -Q`, not from pacman's output.
 */
import { assertPackageNames } from '../../core/validate.js';
import { newConffiles, readConffiles } from '../shared/conffiles.js';
import { withChangedKernels } from '../shared/kernel.js';
import { dryRunResult, refuseSecurityOnly } from '../shared/results.js';
import { diffVersions } from '../shared/versions.js';
import type { ChangedPackage, DriverContext, UpgradeOptions, UpgradeResult } from '../types.js';
import { CONFFILE_SUFFIXES, upgradeCommand } from './commands.js';
import { archKernels } from './kernel.js';
import { runLocked } from './lock.js';
import { type PlannedPackage, parsePacnewWarnings } from './parse.js';
import * as step from './steps.js';

export const DEFAULT_UPGRADE_TIMEOUT_MS = 15 * 60_000;

/** Arch has no security metadata: a security-only run is refused rather than silently doing nothing. */
const NO_SECURITY = 'Arch Linux repositories carry no security metadata (arch-audit advisories are not consulted)';

export async function upgrade(ctx: DriverContext, opts: UpgradeOptions): Promise<UpgradeResult> {
  const exclude = assertPackageNames(opts.exclude);
  if (opts.securityOnly) throw refuseSecurityOnly(NO_SECURITY);
  const adminHolds = await step.readAdminHolds(ctx);
  const before = await step.readVersions(ctx);
  if (opts.dryRun) return dryRun(ctx, exclude, before, adminHolds);

  const conffilesBefore = await readConffiles(ctx, CONFFILE_SUFFIXES);
  const res = await runLocked(ctx, 'upgrade packages', upgradeCommand(exclude), {
    timeoutMs: opts.timeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS,
    stream: true,
    changes: true,
  });
  if (res.exitCode !== 0) throw step.pacmanFailure('upgrade packages', res);
  const output = `${res.stdout}${res.stderr}`;
  const after = await step.readVersions(ctx);
  const changed = diffVersions(before, after);
  const reboot = withChangedKernels(await step.readReboot(ctx, after), changed, archKernels);
  const pacnew = new Set([
    ...newConffiles(conffilesBefore, await readConffiles(ctx, CONFFILE_SUFFIXES)),
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
  const reboot = withChangedKernels(await step.readReboot(ctx, installed), changed, archKernels);
  return dryRunResult(changed, reboot, adminHolds, output);
}

function planned(plan: Map<string, PlannedPackage>, installed: Map<string, string>): ChangedPackage[] {
  return [...plan].map(([name, p]) => ({ package: name, before: installed.get(name) ?? null, after: p.version }));
}
