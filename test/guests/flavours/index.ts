import { arch } from './arch.js';
import { debian } from './debian.js';
import { fedora } from './fedora.js';
import { opensuse } from './opensuse.js';
import type { Flavour, GuestFlavour } from './types.js';

export type { Flavour, FlavourGuest, FlavourLab, GuestFlavour, LockKind, PackageLockHold } from './types.js';
export { GUEST_FLAVOURS } from './types.js';

/** Every guest flavour the lab can build. */
export const FLAVOURS: Readonly<Record<GuestFlavour, Flavour>> = { debian, fedora, opensuse, arch };

export function flavourOf(name: GuestFlavour | undefined): Flavour {
  const f = FLAVOURS[name ?? 'debian'];
  if (!f) throw new Error(`unknown guest flavour '${name}' - expected one of ${Object.keys(FLAVOURS).join(', ')}`);
  return f;
}

/** The packages a guest of the flavour gets at provisioning when its spec names none (kernel included). */
export function defaultPackagesOf(name: GuestFlavour = 'debian'): readonly string[] {
  return flavourOf(name).defaultPackages;
}

/** The flavour's kernel package (fedora kernel-core, opensuse kernel-default, arch linux), or null. */
export function kernelPackageOf(name: GuestFlavour = 'debian'): string | null {
  return flavourOf(name).kernelPackage;
}
