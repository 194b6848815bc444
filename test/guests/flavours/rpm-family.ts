import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { RepoState } from '../demo-packages.js';
import { type FamilyPackage, familyRepoLayout } from './demo-set.js';
import { compareVersions } from './host-root.js';
import { type Advisory, buildRpm, buildRpmRepo } from './rpm-build.js';
import type { FlavourGuest, FlavourLab } from './types.js';

/** Where the rpm families' repo appears inside a guest. */
export const RPM_REPO_DIR = '/srv/repo';

/**
 * Debian's rpm defaults %_dbpath to $HOME/.rpmdb; the guest's /etc/rpm/macros puts the database
 * where Fedora and openSUSE keep it.
 */
export const RPM_MACROS = '%_dbpath /var/lib/rpm\n';

/** Builds every package once (two at a time) and returns a FlavourLab whose repo serves them. */
export async function rpmFlavourLab(opts: {
  labDir: string;
  flavour: string;
  lower: string;
  packages: readonly FamilyPackage[];
  advisories: (state: RepoState) => Advisory[];
}): Promise<FlavourLab> {
  const outDir = path.join(opts.labDir, 'rpms', opts.flavour);
  const repoDir = path.join(opts.labDir, 'repos', opts.flavour);
  await mkdir(outDir, { recursive: true });
  const built = new Map<FamilyPackage, string>();
  const queue = [...opts.packages];
  const worker = async () => {
    for (let p = queue.shift(); p; p = queue.shift()) built.set(p, await buildRpm(p, outDir));
  };
  await Promise.all([worker(), worker()]);
  return {
    lower: opts.lower,
    hostUsr: true,
    repoMounts: { [RPM_REPO_DIR]: repoDir },
    applyRepo: async (state) => {
      const rpms = familyRepoLayout(opts.packages, state).map((p) => built.get(p) ?? '');
      await buildRpmRepo(repoDir, rpms, opts.advisories(state));
    },
  };
}

/** `%{VERSION}-%{RELEASE}` of every installed instance of pkg, oldest first. */
export async function rpmPackageVersions(guest: FlavourGuest, pkg: string): Promise<string[]> {
  const res = await guest.inspect(['rpm', '-q', '--qf', '%{VERSION}-%{RELEASE}\\n', pkg]);
  if (res.exitCode !== 0) return [];
  return res.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .sort(compareVersions);
}

/** The passwd and group lines of a minimal Fedora/openSUSE base system. */
export const RPM_PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'bin:x:1:1:bin:/bin:/sbin/nologin',
  'daemon:x:2:2:daemon:/sbin:/sbin/nologin',
  'nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin',
];
export const RPM_GROUP = ['root:x:0:', 'bin:x:1:', 'daemon:x:2:', 'tty:x:5:', 'wheel:x:10:', 'nobody:x:65534:'];
