/**
 * What differs between dnf and yum. The rpm-family driver operations (family.ts, upgrade.ts) run
 * the same sequence for both and call the package manager only through this interface;
 * `dnf/steps.ts` and `yum/steps.ts` implement it with their own argv and parsers.
 */
import type { DriverContext } from '../types.js';
import type { UpgradeFilters } from './commands.js';
import type { LockHolder } from './lock.js';
import type { RebootHint } from './parse.js';
import type { ListedPackage, TableEntry } from './table.js';

export type { UpgradeFilters } from './commands.js';

export interface TransactionPlan {
  entries: TableEntry[];
  output: string;
}

export interface RpmTool {
  /** 'dnf' or 'yum', for messages. */
  readonly name: string;
  /** Downloads fresh repository metadata; waits out a held lock, then throws 'locked'. */
  refresh(ctx: DriverContext): Promise<void>;
  /** The newest pending update per package, as the package manager would pick it (its excludes applied). */
  available(ctx: DriverContext): Promise<ListedPackage[]>;
  /** Names that have a pending security advisory. */
  securityNames(ctx: DriverContext): Promise<Set<string>>;
  /** Problems in the rpm database, one line each ([] when none). */
  check(ctx: DriverContext): Promise<string[]>;
  /** The transaction an upgrade with these filters would run; changes nothing. */
  plan(ctx: DriverContext, filters: UpgradeFilters): Promise<TransactionPlan>;
  /** Runs the upgrade; returns its output. Throws 'patch-failed' or, after the wait, 'locked'. */
  upgrade(ctx: DriverContext, filters: UpgradeFilters, timeoutMs: number): Promise<string>;
  /** Waits for the package manager's and rpm's locks; the holder still there after the wait, or null. */
  waitForLocks(ctx: DriverContext): Promise<LockHolder | null>;
  /** `needs-restarting -r`; null when the guest has no usable needs-restarting. */
  rebootHint(ctx: DriverContext): Promise<RebootHint | null>;
  /** `needs-restarting -s`; null when unavailable. */
  services(ctx: DriverContext): Promise<string[] | null>;
  /** Holds the admin configured (config excludes, versionlock entries). */
  adminHolds(ctx: DriverContext): Promise<string[]>;
}
