import type { Transport } from '../transports/types.js';
import { type OsRelease, parseOsRelease } from './os-release.js';

/** os-release IDs (and ID_LIKE entries) per package-manager family; a family may have no driver yet. */
export const FAMILY_OS_IDS = {
  apt: ['debian', 'ubuntu', 'devuan', 'linuxmint', 'pop', 'kali', 'raspbian'],
  dnf: ['fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'ol', 'amzn'],
  zypper: ['opensuse-leap', 'opensuse-tumbleweed', 'opensuse', 'sles', 'sled', 'suse'],
  pacman: ['arch', 'manjaro', 'endeavouros'],
  apk: ['alpine'],
} as const satisfies Record<string, readonly string[]>;

/** Proxmox LXC `ostype` values, used only when os-release names no known distribution. */
const OSTYPE_FAMILY: Readonly<Record<string, string>> = {
  debian: 'apt',
  ubuntu: 'apt',
  devuan: 'apt',
  centos: 'dnf',
  fedora: 'dnf',
  opensuse: 'zypper',
  archlinux: 'pacman',
  alpine: 'apk',
};

const OS_RELEASE_FILES = ['/etc/os-release', '/usr/lib/os-release'] as const;

export interface DetectedOs extends OsRelease {
  /** Package-manager family (`apt`, `dnf`…), or null when unknown. */
  family: string | null;
  /** Why `family` is null, or which hint decided it. */
  reason?: string;
}

export function familyForOsId(id: string): string | null {
  for (const [family, ids] of Object.entries(FAMILY_OS_IDS)) {
    if ((ids as readonly string[]).includes(id)) return family;
  }
  return null;
}

/** ID first, then each ID_LIKE entry in order, then the LXC `ostype` hint. */
export function resolveFamily(release: OsRelease, ostype?: string): Pick<DetectedOs, 'family' | 'reason'> {
  for (const id of [release.id, ...release.idLike]) {
    const family = id ? familyForOsId(id) : null;
    if (family) return { family };
  }
  const hinted = ostype ? OSTYPE_FAMILY[ostype] : undefined;
  if (hinted) return { family: hinted, reason: `from the container's ostype '${ostype}'` };
  const like = release.idLike.length > 0 ? release.idLike.join(' ') : 'none';
  const what = release.id ? `unknown distribution '${release.id}' (ID_LIKE: ${like})` : 'no os-release ID found';
  return { family: null, reason: `${what} - no package-manager family matches` };
}

/**
 * Reads os-release through the transport (`cat`, argv only) and maps it to a family; an rpm-family
 * guest without dnf gets 'yum'.
 */
export async function detectOs(transport: Transport, opts: { ostype?: string } = {}): Promise<DetectedOs> {
  let text = '';
  for (const file of OS_RELEASE_FILES) {
    const res = await transport.exec(['cat', file], { timeoutMs: 30_000 });
    if (res.exitCode === 0) {
      text = res.stdout;
      break;
    }
  }
  const release = parseOsRelease(text);
  const resolved = resolveFamily(release, opts.ostype);
  if (resolved.family === 'dnf' && !(await hasDnf(transport))) {
    return { ...release, family: 'yum', reason: 'dnf not found (/usr/bin/dnf) - using yum' };
  }
  return { ...release, ...resolved };
}

/** The rpm family runs dnf from EL8/Fedora 22 on; EL7 and older have only yum (argv only, no shell). */
async function hasDnf(transport: Transport): Promise<boolean> {
  const res = await transport.exec(['test', '-x', '/usr/bin/dnf'], { timeoutMs: 30_000 });
  return res.exitCode === 0;
}
