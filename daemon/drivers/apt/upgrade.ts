/**
 * The apt upgrade: exclusions become holds that pvepatch adds (recorded first, removed in all
 * cases), holds the admin set before are never touched, man-db's trigger is paused, and the result
 * is read back from dpkg rather than from apt's output.
 */
import { assertPackageNames } from '../../core/validate.js';
import { newConffiles, readConffiles } from '../shared/conffiles.js';
import { lockWaitSeconds } from '../shared/lock-wait.js';
import { dryRunResult } from '../shared/results.js';
import { withTemporaryHolds } from '../shared/temporary-holds.js';
import { diffVersions } from '../shared/versions.js';
import type { ChangedPackage, DriverContext, PendingUpdate, UpgradeOptions, UpgradeResult } from '../types.js';
import { CONFFILE_SUFFIXES, upgradeCommand } from './commands.js';
import { restoreManDb, withManDbPaused } from './man-db.js';
import type { Simulation } from './parse.js';
import * as step from './steps.js';

export const DEFAULT_UPGRADE_TIMEOUT_MS = 15 * 60_000;

export async function upgrade(ctx: DriverContext, opts: UpgradeOptions): Promise<UpgradeResult> {
  const exclude = assertPackageNames(opts.exclude);
  const { versions: before, holds: adminHolds } = await step.readState(ctx);
  // the simulation is needed only to pick security updates or to answer a dry run
  const sim = opts.securityOnly || opts.dryRun ? await step.simulate(ctx) : undefined;
  const keep = keptBack(ctx, exclude, opts.securityOnly && sim ? sim.updates : [], before);
  if (opts.dryRun && sim) return dryRun(ctx, sim, before, new Set([...keep, ...adminHolds]), adminHolds);

  const holds = keep.filter((name) => !adminHolds.includes(name));
  if (holds.length > 0) {
    // apt-mark does not wait for the dpkg lock: wait here (apt-get check) before adding holds
    const probe = await step.probeLock(ctx, 'upgrade packages');
    if (probe?.code === 'locked') throw probe;
    if (probe) ctx.log?.(`warning: ${probe.message}`);
  }
  await restoreManDb(ctx); // a run that crashed may have left it paused
  const conffilesBefore = await readConffiles(ctx, CONFFILE_SUFFIXES);
  const output = await withTemporaryHolds(
    ctx,
    holds,
    opts.recordHolds,
    { apply: (h) => step.mark(ctx, 'hold', h), release: (h) => step.mark(ctx, 'unhold', h) },
    () => withManDbPaused(ctx, () => runUpgrade(ctx, opts)),
  );
  const after = await step.readVersions(ctx);
  const reboot = await step.readReboot(ctx);
  return {
    changed: diffVersions(before, after),
    rebootRequired: reboot.required,
    rebootPackages: reboot.packages,
    conffilesPending: newConffiles(conffilesBefore, await readConffiles(ctx, CONFFILE_SUFFIXES)),
    servicesToRestart: [],
    adminHolds,
    output,
  };
}

/**
 * Installed packages this run must keep back: the exclusions, plus (security-only) every pending
 * non-security update. A name that is not installed cannot be held and needs no hold.
 */
function keptBack(ctx: DriverContext, exclude: string[], updates: PendingUpdate[], installed: Map<string, string>) {
  const names = new Set(exclude);
  for (const u of updates) if (!u.security) names.add(u.package);
  return [...names].filter((name) => {
    if (installed.has(name)) return true;
    ctx.log?.(`${name} is not installed - nothing to keep back`);
    return false;
  });
}

async function runUpgrade(ctx: DriverContext, opts: UpgradeOptions): Promise<string> {
  const verb = 'upgrade packages';
  const build = (wait: number) =>
    upgradeCommand(wait, { fixBroken: opts.fixBroken ?? false, ...(opts.pins ? { pins: opts.pins } : {}) });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS;
  const res = await step.aptGet(ctx, verb, build, { timeoutMs, stream: true, changes: true });
  if (res.exitCode !== 0) throw step.aptFailure(verb, res, lockWaitSeconds(ctx));
  return `${res.stdout}${res.stderr}`;
}

/** What the upgrade would change, from the simulation alone; nothing in the guest is touched. */
async function dryRun(
  ctx: DriverContext,
  sim: Simulation & { output: string },
  installed: Map<string, string>,
  skip: Set<string>,
  adminHolds: string[],
): Promise<UpgradeResult> {
  const changed: ChangedPackage[] = sim.updates
    .filter((u) => !skip.has(u.package))
    .map((u) => ({ package: u.package, before: u.current_version, after: u.new_version }));
  for (const name of sim.removals) changed.push({ package: name, before: installed.get(name) ?? null, after: null });
  return dryRunResult(changed, await step.readReboot(ctx), adminHolds, sim.output);
}
