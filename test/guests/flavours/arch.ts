import path from 'node:path';
import { holdLocks } from '../lab-lock.js';
import { FAMILY_DEMO_NAMES, type FamilyPackage, familyDemoPackages, familyRepoLayout } from './demo-set.js';
import { buildHostRoot, DEBIAN_TOOLS, FAMILY_TOOLS, hideHostTools } from './host-root.js';
import { buildPacmanPackage, buildPacmanRepo } from './pacman-build.js';
import type { Flavour, FlavourGuest } from './types.js';

/** /usr/lib/os-release of Arch Linux. */
export const ARCH_OS_RELEASE = `NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling
ANSI_COLOR="38;2;23;147;209"
HOME_URL="https://archlinux.org/"
DOCUMENTATION_URL="https://wiki.archlinux.org/"
SUPPORT_URL="https://bbs.archlinux.org/"
BUG_REPORT_URL="https://gitlab.archlinux.org/groups/archlinux/-/issues"
PRIVACY_POLICY_URL="https://terms.archlinux.org/docs/privacy-policy/"
LOGO=archlinux-logo
`;

/** On Arch, `filesystem` owns os-release. */
const RELEASE_PACKAGE: FamilyPackage = {
  name: 'filesystem',
  version: '2024.04.07',
  release: '1',
  summary: 'Base Arch Linux files',
  files: { '/usr/lib/os-release': ARCH_OS_RELEASE, '/etc/arch-release': '' },
  symlinks: { '/etc/os-release': '../usr/lib/os-release' },
};

const PACKAGES = [RELEASE_PACKAGE, ...familyDemoPackages({ name: 'linux', kver: (v) => `${v}-arch1-1` })];

export const ARCH_REPO_DIR = '/srv/repo';
const DB = 'demo';

const PACMAN_CONF = `#
# /etc/pacman.conf (pvepatch lab: Arch's defaults, one local repository, no signatures)
#
[options]
HoldPkg     = pacman glibc
Architecture = auto
CheckSpace
ParallelDownloads = 5
SigLevel    = Never
LocalFileSigLevel = Never

[${DB}]
Server = file://${ARCH_REPO_DIR}
`;

/** Arch Linux look-alike: host-userland root with the host's pacman 6; no security metadata (Arch has none). */
export const arch: Flavour = {
  name: 'arch',
  ostype: 'archlinux',
  defaultPackages: [...FAMILY_DEMO_NAMES, 'linux'],
  kernelPackage: 'linux',
  conffile: '/etc/demo-conf.conf',
  conffileNewSuffix: '.pacnew',

  async prepare(labDir) {
    const lower = path.join(labDir, 'roots', 'arch');
    await buildHostRoot(lower, {
      passwd: [
        'root:x:0:0::/root:/bin/bash',
        'bin:x:1:1::/:/usr/bin/nologin',
        'nobody:x:65534:65534:Kernel Overflow User:/:/usr/bin/nologin',
      ],
      group: ['root:x:0:root', 'bin:x:1:daemon', 'tty:x:5:', 'wheel:x:998:', 'nobody:x:65534:'],
      dirs: ['var/lib/pacman/local', 'var/lib/pacman/sync', 'var/cache/pacman/pkg', 'etc/pacman.d/hooks'],
      files: { 'etc/pacman.conf': PACMAN_CONF, 'var/lib/pacman/local/ALPM_DB_VERSION': '9\n' },
    });
    const outDir = path.join(labDir, 'pkgs', 'arch');
    const repoDir = path.join(labDir, 'repos', 'arch');
    const built = new Map<FamilyPackage, string>();
    for (const p of PACKAGES) built.set(p, await buildPacmanPackage(p, outDir));
    return {
      lower,
      hostUsr: true,
      repoMounts: { [ARCH_REPO_DIR]: repoDir },
      applyRepo: async (state) => {
        // a pacman db holds one version per package: the newest the state offers
        const newest = new Map<string, FamilyPackage>();
        for (const p of familyRepoLayout(PACKAGES, state)) newest.set(p.name, p);
        await buildPacmanRepo(
          repoDir,
          [...newest.values()].map((p) => built.get(p) ?? ''),
          DB,
        );
      },
    };
  },

  async writeGuestFiles() {},

  async provision(guest: FlavourGuest, packages) {
    await hideHostTools(guest, [...DEBIAN_TOOLS, ...FAMILY_TOOLS.dnf, ...FAMILY_TOOLS.zypper, ...FAMILY_TOOLS.rpm]);
    const install = ['pacman', '-Sy', '--noconfirm', '--noprogressbar', RELEASE_PACKAGE.name, ...packages];
    await guest.execOk(install, { timeoutMs: 300_000 });
  },

  async refresh(guest) {
    await guest.execOk(['pacman', '-Sy', '--noprogressbar']);
  },

  async packageVersions(guest, pkg) {
    const res = await guest.inspect(['pacman', '-Q', pkg]);
    const version = res.exitCode === 0 ? res.stdout.trim().split(' ')[1] : undefined;
    return version ? [version] : [];
  },

  holdLock(guest, seconds) {
    return holdLocks(guest.pctPath, guest.vmid, seconds, ['create:/var/lib/pacman/db.lck'], 'pacman');
  },
};
