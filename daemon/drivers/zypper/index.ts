import { PvepatchError } from '../../core/errors.js';
import { assertPackageNames } from '../../core/validate.js';
import type { Driver, DriverContext, PendingUpdate, PrecheckResult } from '../types.js';
import { assertHolds } from './commands.js';
import { isZypperSuccess, zypperFailure } from './exit-codes.js';
import * as step from './steps.js';
import { upgrade } from './upgrade.js';

/** openSUSE and SLES: zypper, rpm. Stateless; every call takes its context. */
export const zypperDriver = {
  name: 'zypper',
  osIds: ['opensuse-leap', 'opensuse-tumbleweed', 'opensuse', 'sles', 'sled', 'suse'],
  ostypes: ['opensuse'],
  // an approved plan's versions go to `zypper install name=version-release`
  pinsVersions: true,

  refresh: (ctx) => step.refresh(ctx),

  /**
   * Every pending package update zypper would install (packages the admin locked are left out,
   * as zypper keeps them back); `security` when a needed security patch updates that package.
   * The engine reports exclusions itself.
   */
  async listUpdates(ctx: DriverContext, opts?: { exclude?: string[] }): Promise<PendingUpdate[]> {
    assertPackageNames(opts?.exclude ?? []);
    const updates = await step.readUpdates(ctx);
    const patches = await step.readSecurityPatches(ctx);
    const covered = new Set(patches.flatMap((p) => p.packages));
    return updates.map((u) => ({ ...u, security: covered.has(u.package) }));
  },

  /**
   * Broken dependencies (`zypper verify --dry-run` would change something; not a problem with
   * fixBroken, the upgrade repairs them) and a zypp lock still held after the wait.
   */
  async precheck(ctx: DriverContext, opts?: { fixBroken?: boolean }): Promise<PrecheckResult> {
    const res = await step.verifyDryRun(ctx).catch((err: unknown) => {
      if (err instanceof PvepatchError && err.code === 'locked') return err;
      throw err;
    });
    if (res instanceof PvepatchError) return { ok: false, problems: [res.message] };
    if (!isZypperSuccess(res.exitCode)) {
      return { ok: false, problems: [zypperFailure('check dependencies', res).message] };
    }
    if (res.repairs.length === 0 || opts?.fixBroken) return { ok: true, problems: [] };
    const names = res.repairs.map((r) => r.package).join(', ');
    return { ok: false, problems: [`zypper verify reports broken dependencies - it would change ${names}`] };
  },

  upgrade,

  async rebootRequired(ctx: DriverContext): Promise<{ required: boolean; packages: string[] }> {
    return step.readReboot(ctx);
  },

  /** Crash recovery: removes the locks (package names, `patch:ID`) an interrupted run recorded. */
  async releaseHolds(ctx: DriverContext, holds: string[]): Promise<void> {
    await step.lock(ctx, 'remove', assertHolds(holds));
  },
} satisfies Driver;
