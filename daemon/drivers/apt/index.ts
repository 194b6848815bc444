import { assertPackageNames } from '../../core/validate.js';
import type { Driver, DriverContext, PendingUpdate, PrecheckResult } from '../types.js';
import { restoreManDb } from './man-db.js';
import * as step from './steps.js';
import { upgrade } from './upgrade.js';

/** Debian and its derivatives: apt-get, apt-mark, dpkg. Stateless; every call takes its context. */
export const aptDriver = {
  name: 'apt',
  osIds: ['debian', 'ubuntu', 'devuan', 'linuxmint', 'pop', 'kali', 'raspbian'],
  ostypes: ['debian', 'ubuntu', 'devuan'],
  pinsVersions: true,

  refresh: (ctx) => step.refresh(ctx),

  /**
   * Every pending update apt would install; the engine reports exclusions itself. Packages the
   * admin holds are left out, as apt keeps them back.
   */
  async listUpdates(ctx: DriverContext, opts?: { exclude?: string[] }): Promise<PendingUpdate[]> {
    assertPackageNames(opts?.exclude ?? []);
    const sim = await step.simulate(ctx);
    const held = new Set((await step.readState(ctx)).holds);
    return sim.updates.filter((u) => !held.has(u.package));
  },

  /** Broken dpkg state (`dpkg --audit`, unless fixBroken) and a dpkg lock that stays held. */
  async precheck(ctx: DriverContext, opts?: { fixBroken?: boolean }): Promise<PrecheckResult> {
    const problems: string[] = [];
    const audit = await step.audit(ctx);
    if (audit.broken && !opts?.fixBroken) {
      const which = audit.packages.length > 0 ? audit.packages.join(', ') : audit.text.split('\n')[0];
      problems.push(`dpkg reports a broken package state - ${which}`);
    }
    const probe = await step.probeLock(ctx, 'lock the package database');
    if (probe && (probe.code === 'locked' || !opts?.fixBroken)) problems.push(probe.message);
    return { ok: problems.length === 0, problems };
  },

  upgrade,

  rebootRequired: (ctx) => step.readReboot(ctx),

  /** Crash recovery: removes the holds an interrupted run recorded, and un-pauses man-db. */
  async releaseHolds(ctx: DriverContext, holds: string[]): Promise<void> {
    await step.mark(ctx, 'unhold', assertPackageNames(holds));
    await restoreManDb(ctx);
  },
} satisfies Driver;
