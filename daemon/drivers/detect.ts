/**
 * Which driver serves a guest, derived from the driver registry: os-release `ID`, then each
 * `ID_LIKE` entry, then Proxmox's LXC `ostype` hint name the candidate drivers; of several (dnf and
 * yum serve the same IDs) the first in registry order whose `binary` is present in the guest wins.
 */
import { PvepatchError } from '../core/errors.js';
import { drivers } from './index.js';
import { type OsRelease, parseOsRelease } from './os-release.js';
import type { GuestExec } from './shared/guest-exec.js';
import type { Driver } from './types.js';

const OS_RELEASE_FILES = ['/etc/os-release', '/usr/lib/os-release'] as const;

export interface DetectedOs extends OsRelease {
  /** The driver's name (`apt`, `dnf`…), or null when none serves the guest. */
  family: string | null;
  /** Why `family` is null, or which hint decided it. */
  reason?: string;
}

/** Drivers serving an os-release ID (or ID_LIKE entry), in registry order. */
export function driversForOsId(id: string): Driver[] {
  return [...drivers.values()].filter((d) => d.osIds.includes(id));
}

/** The first driver name serving an ID, or null (for tables and messages). */
export function familyForOsId(id: string): string | null {
  return driversForOsId(id)[0]?.name ?? null;
}

/** The candidates for a guest: by ID first, then each ID_LIKE entry, then the LXC `ostype` hint. */
export function candidates(release: OsRelease, ostype?: string): { drivers: Driver[]; reason?: string } {
  for (const id of [release.id, ...release.idLike]) {
    const found = id ? driversForOsId(id) : [];
    if (found.length > 0) return { drivers: found };
  }
  const hinted = ostype ? [...drivers.values()].filter((d) => d.ostypes?.includes(ostype)) : [];
  if (hinted.length > 0) return { drivers: hinted, reason: `from the container's ostype '${ostype}'` };
  const like = release.idLike.length > 0 ? release.idLike.join(' ') : 'none';
  const what = release.id ? `unknown distribution '${release.id}' (ID_LIKE: ${like})` : 'no os-release ID found';
  return { drivers: [], reason: `${what} - no package-manager family matches` };
}

/** Reads os-release through the exec layer (`cat`, argv only) and picks the driver. */
export async function detectOs(exec: GuestExec, opts: { ostype?: string } = {}): Promise<DetectedOs> {
  let text = '';
  for (const file of OS_RELEASE_FILES) {
    const res = await exec.run(['cat', '--', file], { timeoutMs: 30_000 });
    if (res.exitCode === 0) {
      text = res.stdout;
      break;
    }
  }
  const release = parseOsRelease(text);
  const found = candidates(release, opts.ostype);
  const reason = found.reason === undefined ? {} : { reason: found.reason };
  if (found.drivers.length === 0) return { ...release, family: null, ...reason };
  const [first] = found.drivers;
  if (found.drivers.length === 1 || !first) return { ...release, family: first?.name ?? null, ...reason };
  for (const d of found.drivers) {
    if (!d.binary || (await exec.run(['test', '-x', d.binary], { timeoutMs: 30_000 })).exitCode === 0) {
      if (d === first) return { ...release, family: d.name, ...reason };
      const fallback = `${first.binary} not found - using ${d.name}`;
      return { ...release, family: d.name, reason: found.reason ? `${found.reason}; ${fallback}` : fallback };
    }
  }
  const tried = found.drivers.map((d) => d.binary).join(', ');
  throw new PvepatchError('driver-unsupported', `unable to find a package manager in the guest - none of ${tried}`);
}
