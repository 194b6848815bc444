import { PvepatchError } from '../core/errors.js';
import { apkDriver } from './apk/index.js';
import { aptDriver } from './apt/index.js';
import { dnfDriver } from './dnf/index.js';
import { pacmanDriver } from './pacman/index.js';
import type { Driver } from './types.js';
import { yumDriver } from './yum/index.js';
import { zypperDriver } from './zypper/index.js';

/**
 * The explicit driver registry: one line per package-manager family, keyed by the folder name.
 * Detection (detect.ts) is derived from it; where two drivers serve the same os-release IDs the
 * earlier line wins when its program is present (dnf before yum).
 * `test/drivers/registry.test.ts` fails when a driver folder exists without its line here.
 */
export const drivers = new Map<string, Driver>();
drivers.set('apt', aptDriver);
drivers.set('apk', apkDriver);
drivers.set('dnf', dnfDriver);
drivers.set('pacman', pacmanDriver);
drivers.set('yum', yumDriver);
drivers.set('zypper', zypperDriver);

export function getDriver(family: string): Driver | undefined {
  return drivers.get(family);
}

/** Like getDriver, but a family without a driver is a 'driver-unsupported' error. */
export function requireDriver(family: string | null): Driver {
  const driver = family ? drivers.get(family) : undefined;
  if (driver) return driver;
  const known = [...drivers.keys()].sort().join(', ');
  throw new PvepatchError(
    'driver-unsupported',
    `unable to patch guest - no driver for package manager '${family ?? 'unknown'}' (supported: ${known})`,
  );
}
