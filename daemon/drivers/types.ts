import type { GuestExec } from './shared/guest-exec.js';

/** One pending update, in the field names established by patch-management tools. */
export interface PendingUpdate {
  package: string;
  /** null for a package that the upgrade newly installs. */
  current_version: string | null;
  new_version: string;
  repository: string;
  security: boolean;
}

export interface ChangedPackage {
  package: string;
  before: string | null;
  after: string | null;
}

export interface UpgradeOptions {
  /** Package names kept back for this run (validated names only). */
  exclude: string[];
  securityOnly?: boolean;
  dryRun?: boolean;
  timeoutMs?: number;
  /** Allows `--fix-broken` style repair when the precheck found a broken package state. */
  fixBroken?: boolean;
  /**
   * Called with the holds pvepatch is about to add, before they are applied, so a crash can undo
   * exactly those; called again with [] once they are removed.
   */
  recordHolds?: (holds: string[]) => Promise<void>;
  /** An approved plan's versions: install exactly these (drivers with `pinsVersions` only). */
  pins?: Record<string, string>;
}

export interface UpgradeResult {
  changed: ChangedPackage[];
  rebootRequired: boolean;
  /** Packages that asked for the reboot (e.g. /var/run/reboot-required.pkgs). */
  rebootPackages: string[];
  /** Config files left beside the kept ones, e.g. /etc/x.conf.dpkg-dist, .rpmnew, .pacnew. */
  conffilesPending: string[];
  /** Services the family's own tooling says need a restart (needs-restarting, zypper ps, …); [] if unknown. */
  servicesToRestart: string[];
  /** Holds that existed before the run (never touched). */
  adminHolds: string[];
  output: string;
}

export interface PrecheckResult {
  ok: boolean;
  /** Problems found; empty when ok. */
  problems: string[];
}

/** What every driver call gets: the guest (through the one exec layer), a log, the lock wait. */
export interface DriverContext {
  exec: GuestExec;
  /** pvepatch's own statements about this guest. */
  log?: ((text: string) => void) | undefined;
  /** How long to wait for the package manager's lock before giving up. */
  lockTimeoutMs?: number;
}

/** One package-manager family. Parsers live in parse.ts, argv builders in commands.ts. */
export interface Driver {
  readonly name: string;
  /** os-release IDs (and ID_LIKE entries) this driver serves; detection is derived from these. */
  readonly osIds: readonly string[];
  /** Proxmox LXC `ostype` values that point to this family when os-release names none. */
  readonly ostypes?: readonly string[];
  /**
   * A program that must be executable in the guest for this driver to serve it; of several
   * drivers serving one ID (dnf, yum), the first in registry order whose program exists wins.
   */
  readonly binary?: string;
  /** false when the family publishes no security metadata (pacman, apk): security-only runs are refused. */
  readonly securityMetadata?: boolean;
  /** true when `upgrade` can install given versions (`pins`): apt, dnf/yum, zypper, apk. */
  readonly pinsVersions?: boolean;
  refresh(ctx: DriverContext): Promise<void>;
  listUpdates(ctx: DriverContext, opts?: { exclude?: string[] }): Promise<PendingUpdate[]>;
  precheck(ctx: DriverContext, opts?: { fixBroken?: boolean }): Promise<PrecheckResult>;
  upgrade(ctx: DriverContext, opts: UpgradeOptions): Promise<UpgradeResult>;
  rebootRequired(ctx: DriverContext): Promise<{ required: boolean; packages: string[] }>;
  /** Removes holds recorded by an interrupted run (crash recovery). */
  releaseHolds(ctx: DriverContext, holds: string[]): Promise<void>;
}
