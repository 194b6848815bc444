import { assertPackageNames } from '../../core/validate.js';
import type { Driver, DriverContext, PendingUpdate, PrecheckResult } from '../types.js';
import * as step from './steps.js';
import { upgrade } from './upgrade.js';
import { restoreWorld } from './world-io.js';

/** Alpine Linux: apk-tools 2.14 and 3.x. Stateless; every call takes its context. */
export const apkDriver = {
  name: 'apk',
  osIds: ['alpine'],
  ostypes: ['alpine'],
  securityMetadata: false,
  /** An approved plan's versions are world pins (`name=version`) for the upgrade. */
  pinsVersions: true,

  /** `apk --wait N update`; unavailable or stale indexes fail the refresh. */
  refresh: (ctx) => step.refresh(ctx),

  /**
   * What `apk upgrade` would do (world pins and new dependencies included), with the repository
   * of each new version from `apk policy`; the engine reports exclusions itself. `security` is
   * always false: Alpine's indexes carry no security metadata.
   */
  async listUpdates(ctx: DriverContext, opts?: { exclude?: string[] }): Promise<PendingUpdate[]> {
    assertPackageNames(opts?.exclude ?? []);
    const sim = await step.simulate(ctx);
    return step.pendingUpdates(ctx, sim.changes);
  },

  /**
   * apk has no audit of a half-done state to gate on, and its lock is an flock only apk can
   * test: the refresh that follows waits for it (`--wait`) and fails as 'locked'.
   */
  async precheck(_ctx: DriverContext): Promise<PrecheckResult> {
    return { ok: true, problems: [] };
  },

  upgrade,

  rebootRequired: (ctx) => step.readReboot(ctx),

  /** Crash recovery: puts back the world an interrupted run left pinned (the backup it made first). */
  async releaseHolds(ctx: DriverContext, holds: string[]): Promise<void> {
    assertPackageNames(holds);
    if (await restoreWorld(ctx)) ctx.log?.(`restored /etc/apk/world (pins on ${holds.join(', ')} removed)`);
  },
} satisfies Driver;
