/**
 * The read-side driver operations of the rpm family (dnf and yum), written once against RpmTool:
 * pending updates with current versions and security flags, the precheck, and reboot detection.
 */
import { assertPackageNames } from '../../core/validate.js';
import { lockedError, lockTimeoutMs } from '../shared/lock-wait.js';
import { readRebootFlag } from '../shared/reboot-flag.js';
import { changedKernels } from '../shared/versions.js';
import type { ChangedPackage, DriverContext, PendingUpdate, PrecheckResult } from '../types.js';
import { isKernelPackage, newestByName } from './rpm.js';
import * as rs from './steps.js';
import type { RpmTool } from './tool.js';

/**
 * Every pending update the package manager would install; the engine reports exclusions itself.
 * Packages the admin excluded or version-locked are left out by dnf/yum themselves.
 */
export async function listUpdates(
  tool: RpmTool,
  ctx: DriverContext,
  opts?: { exclude?: string[] },
): Promise<PendingUpdate[]> {
  assertPackageNames(opts?.exclude ?? []);
  const available = await tool.available(ctx);
  const security = await tool.securityNames(ctx);
  const current = newestByName(await rs.readInstalled(ctx));
  const seen = new Set<string>();
  const updates: PendingUpdate[] = [];
  for (const p of available) {
    if (seen.has(p.name)) continue; // multilib: one entry per name, like apt's
    seen.add(p.name);
    updates.push({
      package: p.name,
      current_version: current.get(p.name) ?? null,
      new_version: p.evr,
      repository: p.repository,
      security: security.has(p.name),
    });
  }
  return updates;
}

/**
 * An rpm database that does not verify, dependency problems (`dnf check`; tolerated with
 * fixBroken, as the upgrade may repair them) and a lock that stays held for the lock timeout.
 */
export async function precheck(
  tool: RpmTool,
  ctx: DriverContext,
  opts?: { fixBroken?: boolean },
): Promise<PrecheckResult> {
  const problems: string[] = [];
  const db = await rs.verifyDb(ctx);
  if (db.problem) problems.push(`rpm database does not verify - ${db.problem}`);
  const found = await tool.check(ctx);
  if (found.length > 0) {
    const shown = found.slice(0, 3).join('; ') + (found.length > 3 ? `; and ${found.length - 3} more` : '');
    if (opts?.fixBroken) ctx.log?.(`${tool.name} check: ${shown} (allowed by fixBroken)`);
    else problems.push(`${tool.name} check reports ${found.length} problem(s) - ${shown}`);
  }
  const holder = await tool.waitForLocks(ctx);
  if (holder) problems.push(lockedError('lock the package database', holder, lockTimeoutMs(ctx)).message);
  return { ok: problems.length === 0, problems };
}

/**
 * `/run/reboot-required`, or needs-restarting's answer when the guest has it; without it, whether
 * the running kernel is an installed kernel package with a newer sibling (never true in a
 * container, whose kernel is the host's and not one of its packages).
 */
export async function rebootRequired(
  tool: RpmTool,
  ctx: DriverContext,
): Promise<{ required: boolean; packages: string[] }> {
  const flag = await readRebootFlag(ctx);
  const hint = await tool.rebootHint(ctx);
  const kernel = hint ? null : await rs.checkRunningKernel(ctx);
  const packages = [...flag.packages, ...(hint?.packages ?? []), ...(kernel?.packages ?? [])];
  return { required: flag.required || !!hint?.required || !!kernel?.outdated, packages: [...new Set(packages)] };
}

/** After an upgrade: the flag file, a kernel package this run changed, or needs-restarting. */
export async function rebootAfterUpgrade(
  tool: RpmTool,
  ctx: DriverContext,
  changed: readonly ChangedPackage[],
): Promise<{ required: boolean; packages: string[] }> {
  const flag = await readRebootFlag(ctx);
  const kernels = changedKernels(changed, isKernelPackage);
  const hint = await tool.rebootHint(ctx);
  const packages = [...flag.packages, ...kernels, ...(hint?.required ? hint.packages : [])];
  return { required: flag.required || kernels.length > 0 || !!hint?.required, packages: [...new Set(packages)] };
}
