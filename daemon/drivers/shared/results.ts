import { PvepatchError } from '../../core/errors.js';
import type { ChangedPackage, UpgradeResult } from '../types.js';
import type { RebootFlag } from './reboot-flag.js';

/** What a dry run reports: the changes it would make; no config files or services yet. */
export function dryRunResult(
  changed: ChangedPackage[],
  reboot: RebootFlag,
  adminHolds: string[],
  output: string,
): UpgradeResult {
  return {
    changed,
    rebootRequired: reboot.required,
    rebootPackages: reboot.packages,
    conffilesPending: [],
    servicesToRestart: [],
    adminHolds,
    output,
  };
}

/** A family without security metadata refuses a security-only run rather than silently doing nothing. */
export function refuseSecurityOnly(why: string): PvepatchError {
  return new PvepatchError(
    'driver-unsupported',
    `unable to upgrade security updates only - ${why}; run without security-only`,
  );
}
