/**
 * The apk upgrade: exclusions become world pins that pvepatch adds (recorded first, the original
 * world restored in all cases), version constraints the admin set are reported and never touched
 * (the restore puts back the exact original file), and the result is read back from
 * `apk info -v` rather than from apk's output.
 */
import { assertPackageNames, assertVersion } from '../../core/validate.js';
import { newConffiles } from '../shared/conffiles.js';
import { withChangedKernels } from '../shared/kernel.js';
import { dryRunResult, refuseSecurityOnly } from '../shared/results.js';
import { withTemporaryHolds } from '../shared/temporary-holds.js';
import { diffVersions } from '../shared/versions.js';
import type { ChangedPackage, DriverContext, UpgradeOptions, UpgradeResult } from '../types.js';
import { upgradeCommand } from './commands.js';
import { alpineKernels } from './kernel.js';
import * as step from './steps.js';
import { worldEntry, adminHolds as worldHolds } from './world.js';
import { applyPins, readWorld, restoreWorld } from './world-io.js';

export const DEFAULT_UPGRADE_TIMEOUT_MS = 15 * 60_000;

/** Alpine has no security flag in its indexes (secdb is not consulted): security-only is refused. */
const NO_SECURITY = 'Alpine package indexes carry no security metadata (the Alpine secdb is not consulted)';

export async function upgrade(ctx: DriverContext, opts: UpgradeOptions): Promise<UpgradeResult> {
  const exclude = assertPackageNames(opts.exclude);
  if (opts.securityOnly) throw refuseSecurityOnly(NO_SECURITY);
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
  approvedPins(ctx, opts.pins, world, before, pins);
  const output = await withTemporaryHolds(
    ctx,
    [...pins.keys()],
    opts.recordHolds,
    { apply: () => applyPins(ctx, world, pins), release: async () => void (await restoreWorld(ctx)) },
    () => runUpgrade(ctx, opts),
  );
  const after = await step.readVersions(ctx);
  const changed = diffVersions(before, after);
  const reboot = withChangedKernels(await step.readReboot(ctx, after), changed, alpineKernels);
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

/**
 * An approved plan's versions become world pins too (`name=<approved version>`, a hard constraint,
 * so `apk upgrade` installs exactly it). Exclusions win; a package the admin constrains in the
 * world keeps that constraint and is kept back at its installed version instead.
 */
function approvedPins(
  ctx: DriverContext,
  approved: Readonly<Record<string, string>> | undefined,
  world: string[],
  installed: ReadonlyMap<string, string>,
  pins: Map<string, string>,
): void {
  const held = new Set(worldHolds(world).map((t) => worldEntry(t).name));
  for (const [name, version] of Object.entries(approved ?? {})) {
    assertPackageNames([name]);
    assertVersion(version);
    if (pins.has(name)) continue;
    if (held.has(name)) {
      const current = installed.get(name);
      ctx.log?.(`${name}: the admin's own constraint in /etc/apk/world stays - kept back, not pinned to ${version}`);
      if (current !== undefined) pins.set(name, current);
      continue;
    }
    pins.set(name, version);
  }
}

async function runUpgrade(ctx: DriverContext, opts: UpgradeOptions): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS;
  const res = await step.apk(ctx, 'upgrade packages', upgradeCommand, { timeoutMs, stream: true, changes: true });
  if (res.exitCode !== 0) throw step.apkFailure('upgrade packages', res);
  return `${res.stdout}${res.stderr}`;
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
  const reboot = withChangedKernels(await step.readReboot(ctx, installed), changed, alpineKernels);
  return dryRunResult(changed, reboot, holds, sim.output);
}
