/**
 * The zypper upgrade: `zypper update`, or with securityOnly `zypper patch --category security`.
 * Exclusions become locks that pvepatch adds (recorded first, removed in all cases); the admin's
 * locks are never touched; the result is read back from rpm rather than from zypper's output.
 */
import { assertPackageNames } from '../../core/validate.js';
import { newConffiles, readConffiles } from '../shared/conffiles.js';
import { dryRunResult } from '../shared/results.js';
import { changedKernels, diffVersions } from '../shared/versions.js';
import type { ChangedPackage, DriverContext, UpgradeOptions, UpgradeResult } from '../types.js';
import {
  assertHolds,
  CONFFILE_SUFFIXES,
  pinnedUpdateCommand,
  securityPatchCommand,
  updateCommand,
  updateDryRunCommand,
} from './commands.js';
import { exitNote, isZypperSuccess, ZYPPER_EXIT, zypperFailure } from './exit-codes.js';
import { type LockPlan, planLocks, withRunLocks } from './locks.js';
import { describeLock, parseInstallSummary } from './parse.js';
import { isKernelPackage } from './parse-text.js';
import * as step from './steps.js';

export const DEFAULT_UPGRADE_TIMEOUT_MS = 15 * 60_000;
/** zypper exits 103 after updating itself; it is run again, at most this many times in all. */
const MAX_PASSES = 3;

export async function upgrade(ctx: DriverContext, opts: UpgradeOptions): Promise<UpgradeResult> {
  const exclude = assertHolds(assertPackageNames(opts.exclude));
  const locks = await step.readLocks(ctx, 'upgrade packages'); // waits for the zypp lock; nothing changed yet
  const adminHolds = locks.map(describeLock);
  const before = await step.readVersions(ctx);
  const patches = opts.securityOnly ? await step.readSecurityPatches(ctx) : null;
  const plan = planLocks(exclude, locks, patches);
  for (const p of plan.skippedPatches)
    ctx.log?.(`skipping security patch ${p.id} - it updates ${p.because.join(', ')}`);
  if (opts.dryRun) return dryRun(ctx, { opts, exclude, patches, plan, adminHolds, installed: before });

  const conffilesBefore = await readConffiles(ctx, CONFFILE_SUFFIXES);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS;
  const passes = await withRunLocks(ctx, plan.holds, opts.recordHolds, () => runUpgrade(ctx, opts, timeoutMs));
  const changed = diffVersions(before, await step.readVersions(ctx));
  const reboot = await step.readReboot(ctx);
  const kernels = changedKernels(changed, isKernelPackage);
  return {
    changed,
    rebootRequired: reboot.required || passes.rebootNeeded || kernels.length > 0,
    rebootPackages: [...new Set([...reboot.packages, ...kernels])],
    conffilesPending: newConffiles(conffilesBefore, await readConffiles(ctx, CONFFILE_SUFFIXES)),
    servicesToRestart: await step.readServices(ctx),
    adminHolds,
    output: passes.output,
  };
}

/**
 * Repairs dependencies first when allowed (fixBroken), then runs the update (or security patch),
 * and runs it again after an exit 103 (zypper updated itself). Runs inside the run's locks.
 */
async function runUpgrade(ctx: DriverContext, opts: UpgradeOptions, timeoutMs: number) {
  const pins = opts.pins;
  const build =
    pins && Object.keys(pins).length > 0
      ? (w: number) => pinnedUpdateCommand(w, pins)
      : opts.securityOnly
        ? securityPatchCommand
        : updateCommand;
  let output = opts.fixBroken ? await step.repair(ctx, timeoutMs) : '';
  let rebootNeeded = false;
  for (let pass = 1; pass <= MAX_PASSES; pass++) {
    const res = await step.zypper(ctx, 'upgrade packages', build, { timeoutMs, stream: true, changes: true });
    output += `${res.stdout}${res.stderr}`;
    if (!isZypperSuccess(res.exitCode)) throw zypperFailure('upgrade packages', res);
    const note = exitNote(res.exitCode);
    if (note) ctx.log?.(`zypper exit ${res.exitCode}: ${note}`);
    if (res.exitCode === ZYPPER_EXIT.rebootNeeded) rebootNeeded = true;
    if (res.exitCode !== ZYPPER_EXIT.restartNeeded) break;
  }
  return { output, rebootNeeded };
}

interface DryRunInput {
  opts: UpgradeOptions;
  exclude: string[];
  patches: step.SecurityPatch[] | null;
  plan: LockPlan;
  adminHolds: string[];
  installed: Map<string, string>;
}

/**
 * What the upgrade would change; nothing in the guest is touched (no locks, no recordHolds).
 * Plain: zypper's own `update --dry-run` summary minus the exclusions (admin locks are honoured by
 * zypper). Security-only: the pending updates that the patches it would apply cover — a dry run of
 * `zypper patch` would stop on the very conflicts the run's patch locks avoid.
 */
async function dryRun(ctx: DriverContext, d: DryRunInput): Promise<UpgradeResult> {
  const { opts, exclude, plan } = d;
  let changed: ChangedPackage[];
  let output: string;
  if (opts.securityOnly) {
    const skipped = new Set(plan.skippedPatches.map((p) => p.id));
    const covered = new Set((d.patches ?? []).filter((p) => !skipped.has(p.id)).flatMap((p) => p.packages));
    const updates = await step.readUpdates(ctx);
    changed = updates
      .filter((u) => covered.has(u.package) && !exclude.includes(u.package))
      .map((u) => ({ package: u.package, before: u.current_version, after: u.new_version }));
    output = changed.map((c) => `${c.package} ${c.before ?? '(new)'} -> ${c.after}`).join('\n');
  } else {
    const res = await step.zypper(ctx, 'simulate the upgrade', updateDryRunCommand);
    if (!isZypperSuccess(res.exitCode)) throw zypperFailure('simulate the upgrade', res);
    changed = (parseInstallSummary(res.stdout)?.changes ?? [])
      .filter((c) => !exclude.includes(c.package))
      // a multiversion kernel is a to-install without edition-old: it still replaces the running one
      .map((c) => ({ ...c, before: c.before ?? d.installed.get(c.package) ?? null }));
    output = res.stdout;
  }
  const reboot = await step.readReboot(ctx);
  const kernels = changedKernels(changed, isKernelPackage);
  const withKernels = {
    required: reboot.required || kernels.length > 0,
    packages: [...new Set([...reboot.packages, ...kernels])],
  };
  return dryRunResult(changed, withKernels, d.adminHolds, output);
}
