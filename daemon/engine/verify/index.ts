/** Verification after a patch or a reboot: the public surface (see readme.md). */
export { type CheckOutcome, type CheckResult, type RunChecksOptions, runCheck, runChecks } from './checks.js';
export { failedUnitsCommand, serviceActiveCommand } from './commands.js';
export {
  describeFailedUnits,
  FAILED_UNITS_TIMEOUT_MS,
  type FailedUnits,
  interpretFailedUnits,
  readFailedUnits,
} from './failed-units.js';
export { httpProbe, type ProbeResult, tcpProbe } from './host-probes.js';
export { diffFailed, MAX_FAILED_UNITS, parseFailedUnits, scanFailedUnits, systemdAbsence } from './parse.js';
