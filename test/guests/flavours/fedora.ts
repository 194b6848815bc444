import path from 'node:path';
import { holdLocks } from '../lab-lock.js';
import { FAMILY_DEMO_NAMES, type FamilyPackage, familyDemoPackages } from './demo-set.js';
import { buildHostRoot, DEBIAN_TOOLS, FAMILY_TOOLS, hideHostTools } from './host-root.js';
import type { Advisory } from './rpm-build.js';
import { RPM_GROUP, RPM_MACROS, RPM_PASSWD, RPM_REPO_DIR, rpmFlavourLab, rpmPackageVersions } from './rpm-family.js';
import type { Flavour, FlavourGuest } from './types.js';

/** /usr/lib/os-release of a Fedora 40 container image. */
export const FEDORA_OS_RELEASE = `NAME="Fedora Linux"
VERSION="40 (Container Image)"
ID=fedora
VERSION_ID=40
VERSION_CODENAME=""
PLATFORM_ID="platform:f40"
PRETTY_NAME="Fedora Linux 40 (Container Image)"
ANSI_COLOR="0;38;2;60;110;180"
LOGO=fedora-logo-icon
CPE_NAME="cpe:/o:fedoraproject:fedora:40"
DEFAULT_HOSTNAME="fedora"
HOME_URL="https://fedoraproject.org/"
DOCUMENTATION_URL="https://docs.fedoraproject.org/en-US/fedora/f40/system-administrators-guide/"
SUPPORT_URL="https://ask.fedoraproject.org/"
BUG_REPORT_URL="https://bugzilla.redhat.com/"
REDHAT_BUGZILLA_PRODUCT="Fedora"
REDHAT_BUGZILLA_PRODUCT_VERSION=40
REDHAT_SUPPORT_PRODUCT="Fedora"
REDHAT_SUPPORT_PRODUCT_VERSION=40
SUPPORT_END=2025-05-13
VARIANT="Container Image"
VARIANT_ID=container
`;

/** Owns os-release and tells dnf the release version ($releasever = 40), as on Fedora. */
const RELEASE_PACKAGE: FamilyPackage = {
  name: 'fedora-release-common',
  version: '40',
  release: '1',
  summary: 'Fedora release files',
  provides: ['system-release', 'system-release(releasever) = 40'],
  files: { '/usr/lib/os-release': FEDORA_OS_RELEASE, '/etc/fedora-release': 'Fedora release 40 (Forty)\n' },
  symlinks: {
    '/etc/os-release': '../usr/lib/os-release',
    '/etc/redhat-release': 'fedora-release',
    '/etc/system-release': 'fedora-release',
  },
};

const PACKAGES = [
  RELEASE_PACKAGE,
  ...familyDemoPackages({
    name: 'kernel-core',
    provides: ['installonlypkg(kernel)'],
    kver: (v) => `${v}-1.fc40.x86_64`,
  }),
];

const DNF_CONF = `# see \`man dnf.conf\` for defaults and possible options

[main]
gpgcheck=True
installonly_limit=3
clean_requirements_on_remove=True
best=False
skip_if_unavailable=True
`;

const REPO = `[demo]
name=Demo packages for pvepatch tests
baseurl=file://${RPM_REPO_DIR}
enabled=1
gpgcheck=0
metadata_expire=6h
`;

const advisory = (id: string, type: string, severity: string, pkg: string): Advisory => ({
  id,
  type,
  severity,
  from: 'updates@fedoraproject.org',
  version: '2.0',
  title: `${pkg}-1.1-1`,
  description: `${type === 'security' ? 'Security fix' : 'Bug fix'} for ${pkg}.`,
  issued: '2026-01-15 00:00:00',
  ...(type === 'security' ? { cves: ['CVE-2026-0001'] } : {}),
  collection: { short: 'F40', name: 'Fedora 40' },
  packages: PACKAGES.filter((p) => p.name === pkg && p.version === '1.1'),
});

/** Fedora 40 look-alike: host-userland root with the host's dnf 4 and rpm; updateinfo with advisories. */
export const fedora: Flavour = {
  name: 'fedora',
  ostype: 'fedora',
  defaultPackages: [...FAMILY_DEMO_NAMES, 'kernel-core'],
  kernelPackage: 'kernel-core',
  conffile: '/etc/demo-conf.conf',
  conffileNewSuffix: '.rpmnew',

  async prepare(labDir) {
    const lower = path.join(labDir, 'roots', 'fedora');
    await buildHostRoot(lower, {
      passwd: RPM_PASSWD,
      group: RPM_GROUP,
      dirs: ['var/lib/rpm', 'var/lib/dnf', 'var/cache/dnf', 'etc/dnf/plugins', 'etc/dnf/vars'],
      files: {
        'etc/rpm/macros': RPM_MACROS,
        'etc/dnf/dnf.conf': DNF_CONF,
        'etc/yum.repos.d/demo.repo': REPO,
      },
    });
    return rpmFlavourLab({
      labDir,
      flavour: 'fedora',
      lower,
      packages: PACKAGES,
      advisories: (state) =>
        state === 'v2'
          ? [
              advisory('FEDORA-2026-0001', 'security', 'Important', 'demo-sec'),
              advisory('FEDORA-2026-0002', 'bugfix', 'None', 'demo-tool'),
            ]
          : [],
    });
  },

  async writeGuestFiles() {},

  async provision(guest: FlavourGuest, packages) {
    await hideHostTools(guest, [...DEBIAN_TOOLS, ...FAMILY_TOOLS.zypper, ...FAMILY_TOOLS.pacman]);
    await guest.execOk(['rpmdb', '--initdb']);
    const first = (p: string) => (p === 'kernel-core' ? `${p}-6.1.0` : p.startsWith('demo-') ? `${p}-1.0` : p);
    // --releasever: fedora-release-common, which tells dnf the release, is not installed yet
    const install = ['dnf', '-y', '-q', '--releasever=40', 'install', RELEASE_PACKAGE.name, ...packages.map(first)];
    await guest.execOk(install, { timeoutMs: 300_000 });
    // as on Fedora (package yum): yum is dnf
    await guest.execOk(['ln', '-sf', 'dnf-3', '/usr/bin/yum']);
  },

  async refresh(guest) {
    await guest.execOk(['dnf', '-q', 'makecache', '--refresh']);
  },

  packageVersions: rpmPackageVersions,

  holdLock(guest, seconds, kind) {
    const dnf = kind === 'frontend' ? (['pidfile:/var/lib/dnf/rpmdb_lock.pid'] as const) : [];
    return holdLocks(guest.pctPath, guest.vmid, seconds, [...dnf, 'fcntl:/var/lib/rpm/.rpm.lock'], 'dnf/rpm');
  },
};
