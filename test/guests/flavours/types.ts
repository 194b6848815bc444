import type { RepoState } from '../demo-packages.js';
import type { RunResult } from '../run.js';

/** Distribution family of a lab guest. 'debian' is a real bookworm root; the others are host-userland roots. */
export type GuestFlavour = 'debian' | 'fedora' | 'opensuse' | 'arch';

export const GUEST_FLAVOURS: readonly GuestFlavour[] = ['debian', 'fedora', 'opensuse', 'arch'];

/**
 * Which lock a holder takes:
 * - 'frontend' (default): what the family's package manager holds while it runs a transaction
 *   (debian: dpkg lock-frontend + lock; fedora: dnf's /var/lib/dnf/rpmdb_lock.pid + rpm's
 *   /var/lib/rpm/.rpm.lock; opensuse: /run/zypp.pid + .rpm.lock; arch: /var/lib/pacman/db.lck);
 * - 'database': only the low-level database lock, as a bare dpkg/rpm run holds it
 *   (debian: /var/lib/dpkg/lock; fedora/opensuse: .rpm.lock; arch: db.lck, the same as frontend).
 */
export type LockKind = 'frontend' | 'database';

/** A package-manager lock held inside a guest until release() or until its time runs out. */
export interface PackageLockHold {
  /** The holder's pid inside the guest (the number the tools print). */
  pid: number;
  /** Ends the holder; pid files and lock files it created are removed. Safe to call twice. */
  release(): Promise<void>;
}

/** What a flavour may do with one guest. */
export interface FlavourGuest {
  readonly vmid: number;
  /** The lab's pct wrapper. */
  readonly pctPath: string;
  /** Host path of the guest's mounted root (write only below /etc, never below /usr). */
  readonly root: string;
  /** `pct exec <vmid> --keep-env 0 -- argv`. */
  exec(argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** Like exec, but throws when the exit code is not 0. */
  execOk(argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** exec on a running guest, `chroot <root>` on a stopped one (read-only queries). */
  inspect(argv: readonly string[]): Promise<RunResult>;
}

/** What guests of one flavour share inside one lab. */
export interface FlavourLab {
  /** Overlay lowerdir of every guest root of this flavour. */
  lower: string;
  /** /usr is a second overlay: lowerdir = the host's /usr, upperdir per guest (host-userland roots). */
  hostUsr: boolean;
  /** Guest path → host directory, bind-mounted read-only into every guest of the flavour. */
  repoMounts: Readonly<Record<string, string>>;
  /** Rewrites the repo directories in place for a state (bind mounts stay valid). */
  applyRepo(state: RepoState): Promise<void>;
}

/** One distribution family of lab guests. */
export interface Flavour {
  readonly name: GuestFlavour;
  /** `ostype:` in ct.conf, as Proxmox writes it. */
  readonly ostype: string;
  /** Packages installed at their first version when the guest spec names none. */
  readonly defaultPackages: readonly string[];
  /** The family's kernel package (6.1.0 in v1, 6.2.0 in v2); null when the flavour has none. */
  readonly kernelPackage: string | null;
  /** demo-conf's config file; `modifyConffile` appends an admin edit to it. */
  readonly conffile: string;
  /** Suffix the family's tool gives the shipped config when the admin's is kept. */
  readonly conffileNewSuffix: string;
  /** Builds the lower root, the packages and the repo directories under labDir. */
  prepare(labDir: string): Promise<FlavourLab>;
  /** Writes the family's config into a freshly mounted guest root (host side, below /etc only). */
  writeGuestFiles(root: string): Promise<void>;
  /** Runs in the started guest: installs `packages` at their first version with the family's tool. */
  provision(guest: FlavourGuest, packages: readonly string[]): Promise<void>;
  /** Refreshes the guest's repo metadata with the family's tool (setRepo's `update`). */
  refresh(guest: FlavourGuest): Promise<void>;
  /** Installed versions of pkg, oldest first ([] when not installed); several for install-only kernels. */
  packageVersions(guest: FlavourGuest, pkg: string): Promise<string[]>;
  /** Holds the family's lock from a process inside the guest. */
  holdLock(guest: FlavourGuest, seconds: number, kind: LockKind): Promise<PackageLockHold>;
}
