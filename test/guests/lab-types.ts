import type { RepoState } from './demo-packages.js';
import type { GuestFlavour } from './flavours/index.js';

export type GuestStatus = 'running' | 'stopped';

export interface LabGuestSpec {
  vmid: number;
  /**
   * 'ct' (default): a container reached with the pct shim. 'vm': the same kind of guest root, meant to be
   * reached through the QEMU guest agent (`lab.agentBackend`); `startEnv` registers it as a qemu guest.
   */
  kind?: 'ct' | 'vm';
  hostname?: string;
  status?: GuestStatus;
  /**
   * Distribution family (default 'debian'). 'fedora', 'opensuse' and 'arch' are host-userland
   * roots: the host's dnf/zypper/pacman binaries with the family's config, os-release and repos.
   */
  flavour?: GuestFlavour;
  /**
   * Installed at their first version (demo 1.0, kernel 6.1.0) at create time with the family's
   * tool; default: the five demo packages, plus the kernel package on fedora/opensuse/arch.
   */
  packages?: string[];
  /**
   * The admin edited /etc/demo-conf.conf, so an upgrade leaves /etc/demo-conf.conf.dpkg-dist
   * (.rpmnew on fedora/opensuse, .pacnew on arch).
   */
  modifyConffile?: boolean;
}

export interface LabOptions {
  dir: string;
  guests: LabGuestSpec[];
  /** Repo state after the guests are provisioned (they always install from v1); default v1. */
  repo?: RepoState;
}

export interface LabExecOptions {
  input?: string;
  /** Passed as pct's --keep-env; default false (a clean environment). */
  keepEnv?: boolean;
  timeoutMs?: number;
}
