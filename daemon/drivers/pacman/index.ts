import { assertPackageNames } from '../../core/validate.js';
import type { Driver, DriverContext, PendingUpdate, PrecheckResult } from '../types.js';
import { waitForUnlock } from './lock.js';
import { mergeUpdates } from './parse.js';
import * as step from './steps.js';
import { upgrade } from './upgrade.js';

/** Arch Linux and its derivatives: pacman, pacman-conf. Stateless; every call takes its context. */
export const pacmanDriver = {
  name: 'pacman',
  osIds: ['arch', 'manjaro', 'endeavouros'],
  ostypes: ['archlinux'],
  securityMetadata: false,

  /** `pacman -Syy`, run again once db.lck is gone when it found the lock (readme.md: -Syy over -Sy). */
  refresh: (ctx) => step.refresh(ctx),

  /**
   * Every pending update `pacman -Qu` reports that IgnorePkg does not keep back, with the
   * repository and any new dependency from `pacman -Su --print`; the engine reports exclusions
   * itself. `security` is always false: Arch publishes no security metadata.
   */
  async listUpdates(ctx: DriverContext, opts?: { exclude?: string[] }): Promise<PendingUpdate[]> {
    assertPackageNames(opts?.exclude ?? []);
    const pending = await step.readPending(ctx);
    if (pending.every((p) => p.ignored)) return [];
    const { plan } = await step.readPlan(ctx, []);
    return mergeUpdates(pending, plan);
  },

  /** db.lck must go away within the lock timeout; pacman has no broken-state audit to run. */
  async precheck(ctx: DriverContext): Promise<PrecheckResult> {
    const locked = await waitForUnlock(ctx, 'lock the package database');
    return locked ? { ok: false, problems: [locked.message] } : { ok: true, problems: [] };
  },

  upgrade,

  rebootRequired: (ctx) => step.readReboot(ctx),

  /**
   * Nothing to release: exclusions are `--ignore` arguments of the one upgrade command and never
   * outlive it, so no run records holds. Names are still validated.
   */
  async releaseHolds(ctx: DriverContext, holds: string[]): Promise<void> {
    assertPackageNames(holds);
    if (holds.length > 0)
      ctx.log?.(`pacman keeps no holds between commands - nothing to release for ${holds.join(', ')}`);
  },
} satisfies Driver;
