/**
 * The rpm-family upgrade (dnf and yum): exclusions are `--exclude=` options of this one run, so
 * pvepatch adds no hold that could outlive it (recordHolds is never called); the admin's own
 * excludes and version locks are honoured by the package manager and reported. The result is read
 * back from rpm, not from the package manager's output.
 */
import { assertPackageNames } from '../../core/validate.js';
import { newConffiles, readConffiles } from '../shared/conffiles.js';
import { lockedError, lockTimeoutMs } from '../shared/lock-wait.js';
import { dryRunResult } from '../shared/results.js';
import type { ChangedPackage, DriverContext, UpgradeOptions, UpgradeResult } from '../types.js';
import { CONFFILE_SUFFIXES } from './commands.js';
import { rebootAfterUpgrade, rebootRequired } from './family.js';
import type { InstalledRpm } from './parse.js';
import { diffInstalled, newestByName } from './rpm.js';
import * as rs from './steps.js';
import type { RpmTool, TransactionPlan, UpgradeFilters } from './tool.js';

export async function upgradeWith(tool: RpmTool, ctx: DriverContext, opts: UpgradeOptions): Promise<UpgradeResult> {
  const filters: UpgradeFilters = {
    exclude: assertPackageNames(opts.exclude),
    securityOnly: !!opts.securityOnly,
    ...(opts.pins ? { pins: opts.pins } : {}),
  };
  const adminHolds = await tool.adminHolds(ctx);
  const before = await rs.readInstalled(ctx);
  if (opts.dryRun) return dryRun(tool, ctx, filters, before, adminHolds);

  const holder = await tool.waitForLocks(ctx);
  if (holder) throw lockedError('upgrade packages', holder, lockTimeoutMs(ctx));
  const conffilesBefore = await readConffiles(ctx, CONFFILE_SUFFIXES);
  const output = await tool.upgrade(ctx, filters, opts.timeoutMs ?? rs.DEFAULT_UPGRADE_TIMEOUT_MS);
  const after = await rs.readInstalled(ctx);
  const changed = diffInstalled(before, after);
  const reboot = await rebootAfterUpgrade(tool, ctx, changed);
  return {
    changed,
    rebootRequired: reboot.required,
    rebootPackages: reboot.packages,
    conffilesPending: newConffiles(conffilesBefore, await readConffiles(ctx, CONFFILE_SUFFIXES)),
    servicesToRestart: (await tool.services(ctx)) ?? [],
    adminHolds,
    output,
  };
}

/** What the upgrade would change, from the resolved transaction table; nothing in the guest changes. */
async function dryRun(
  tool: RpmTool,
  ctx: DriverContext,
  filters: UpgradeFilters,
  installed: InstalledRpm[],
  adminHolds: string[],
): Promise<UpgradeResult> {
  const plan = await tool.plan(ctx, filters);
  const reboot = await rebootRequired(tool, ctx);
  return dryRunResult(plannedChanges(plan, newestByName(installed)), reboot, adminHolds, plan.output);
}

/** Installs, upgrades and downgrades with their current versions; removals (also obsoleted ones). */
export function plannedChanges(plan: TransactionPlan, current: Map<string, string>): ChangedPackage[] {
  const changed = new Map<string, ChangedPackage>();
  for (const e of plan.entries) {
    if (changed.has(e.name) || e.action === 'skip' || e.action === 'reinstall') continue;
    const before = current.get(e.name) ?? null;
    const after = e.action === 'remove' ? null : e.evr;
    if (before !== after) changed.set(e.name, { package: e.name, before, after });
  }
  return [...changed.values()];
}
