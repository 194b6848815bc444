import path from 'node:path';
import { holdLocks } from '../lab-lock.js';
import { FAMILY_DEMO_NAMES, type FamilyPackage, familyDemoPackages } from './demo-set.js';
import { buildHostRoot, DEBIAN_TOOLS, FAMILY_TOOLS, hideHostTools } from './host-root.js';
import type { Advisory } from './rpm-build.js';
import { RPM_GROUP, RPM_MACROS, RPM_PASSWD, RPM_REPO_DIR, rpmFlavourLab, rpmPackageVersions } from './rpm-family.js';
import type { Flavour, FlavourGuest } from './types.js';

/** /usr/lib/os-release of openSUSE Leap 15.6. */
export const OPENSUSE_OS_RELEASE = `NAME="openSUSE Leap"
VERSION="15.6"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.6"
PRETTY_NAME="openSUSE Leap 15.6"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:opensuse:leap:15.6"
BUG_REPORT_URL="https://bugs.opensuse.org"
HOME_URL="https://www.opensuse.org/"
DOCUMENTATION_URL="https://en.opensuse.org/Portal:Leap"
LOGO="distributor-logo-Leap"
`;

/** The base product zypp reads (a missing /etc/products.d/baseproduct makes zypper warn on every run). */
const LEAP_PROD = `<?xml version="1.0" encoding="UTF-8"?>
<product schemeversion="0">
  <vendor>openSUSE</vendor>
  <name>Leap</name>
  <version>15.6</version>
  <release>0</release>
  <arch>x86_64</arch>
  <cpeid>cpe:/o:opensuse:leap:15.6</cpeid>
  <productline>Leap</productline>
  <summary>openSUSE Leap 15.6</summary>
  <shortsummary>openSUSE Leap</shortsummary>
  <description>openSUSE Leap 15.6 (pvepatch lab look-alike)</description>
</product>
`;

/** Owns os-release and the base product, as on Leap. */
const RELEASE_PACKAGE: FamilyPackage = {
  name: 'openSUSE-release',
  version: '15.6',
  release: '1',
  summary: 'openSUSE Leap 15.6',
  provides: ['product() = Leap', 'product(Leap) = 15.6-0'],
  files: {
    '/usr/lib/os-release': OPENSUSE_OS_RELEASE,
    '/etc/SUSE-brand': 'openSUSE\nVERSION = 15.6\n',
    '/etc/products.d/Leap.prod': LEAP_PROD,
  },
  symlinks: { '/etc/os-release': '../usr/lib/os-release', '/etc/products.d/baseproduct': 'Leap.prod' },
};

const PACKAGES = [
  RELEASE_PACKAGE,
  ...familyDemoPackages({ name: 'kernel-default', provides: ['multiversion(kernel)'], kver: (v) => `${v}-1-default` }),
];

/** The parts of Leap's zypp.conf that change behaviour here: kernels are installed side by side. */
const ZYPP_CONF = `## pvepatch lab: the non-default settings of openSUSE Leap's /etc/zypp/zypp.conf
[main]
multiversion = provides:multiversion(kernel)
multiversion.kernels = latest,latest-1,running
`;

/** libzypp's list of packages whose update makes zypper write /run/reboot-needed (`zypper needs-rebooting`). */
const NEEDREBOOT = `# packages (or capabilities) whose update needs a reboot
kernel-default
glibc
systemd
`;

const REPO = `[demo]
name=Demo packages for pvepatch tests
enabled=1
autorefresh=1
baseurl=file://${RPM_REPO_DIR}
type=rpm-md
gpgcheck=0
keeppackages=0
`;

const advisory = (id: string, type: string, severity: string, pkg: string): Advisory => ({
  id,
  type,
  severity,
  from: 'maint-coord@suse.de',
  version: '1',
  title: `${type === 'security' ? 'Security update' : 'Recommended update'} for ${pkg}`,
  description: `${type === 'security' ? 'This update fixes a security issue' : 'This update fixes a bug'} in ${pkg}.`,
  issued: '2026-01-15 00:00:00',
  ...(type === 'security' ? { cves: ['CVE-2026-0001'] } : {}),
  collection: { short: 'openSUSE-Leap-15.6-Update', name: 'openSUSE Leap 15.6 Update' },
  packages: PACKAGES.filter((p) => p.name === pkg && p.version === '1.1'),
});

/** openSUSE Leap 15.6 look-alike: host-userland root with the host's zypper and rpm; patches from updateinfo. */
export const opensuse: Flavour = {
  name: 'opensuse',
  ostype: 'opensuse',
  defaultPackages: [...FAMILY_DEMO_NAMES, 'kernel-default'],
  kernelPackage: 'kernel-default',
  conffile: '/etc/demo-conf.conf',
  conffileNewSuffix: '.rpmnew',

  async prepare(labDir) {
    const lower = path.join(labDir, 'roots', 'opensuse');
    await buildHostRoot(lower, {
      passwd: RPM_PASSWD,
      group: RPM_GROUP,
      dirs: ['var/lib/rpm', 'var/lib/zypp', 'var/cache/zypp', 'etc/zypp/services.d', 'etc/products.d'],
      files: {
        'etc/rpm/macros': RPM_MACROS,
        'etc/zypp/zypp.conf': ZYPP_CONF,
        'etc/zypp/needreboot': NEEDREBOOT,
        'etc/zypp/repos.d/demo.repo': REPO,
      },
    });
    return rpmFlavourLab({
      labDir,
      flavour: 'opensuse',
      lower,
      packages: PACKAGES,
      advisories: (state) =>
        state === 'v2'
          ? [
              advisory('openSUSE-SU-2026:0001-1', 'security', 'important', 'demo-sec'),
              advisory('openSUSE-RU-2026:0002-1', 'recommended', 'moderate', 'demo-tool'),
            ]
          : [],
    });
  },

  async writeGuestFiles() {},

  async provision(guest: FlavourGuest, packages) {
    await hideHostTools(guest, [...DEBIAN_TOOLS, ...FAMILY_TOOLS.dnf, ...FAMILY_TOOLS.pacman]);
    await guest.execOk(['rpmdb', '--initdb']);
    const first = (p: string) => (p === 'kernel-default' ? `${p}=6.1.0` : p.startsWith('demo-') ? `${p}=1.0` : p);
    const install = ['zypper', '--non-interactive', '--quiet', 'install', RELEASE_PACKAGE.name, ...packages.map(first)];
    await guest.execOk(install, { timeoutMs: 300_000 });
    // installing kernel-default wrote zypp's reboot flag; the first boot after installation clears /run
    await guest.execOk(['rm', '-f', '/run/reboot-needed']);
  },

  async refresh(guest) {
    await guest.execOk(['zypper', '--non-interactive', '--quiet', 'refresh']);
  },

  packageVersions: rpmPackageVersions,

  holdLock(guest, seconds, kind) {
    const zypp = kind === 'frontend' ? (['pidfile:/run/zypp.pid'] as const) : [];
    return holdLocks(guest.pctPath, guest.vmid, seconds, [...zypp, 'fcntl:/var/lib/rpm/.rpm.lock'], 'zypp/rpm');
  },
};
