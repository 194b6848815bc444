/**
 * What a zypper exit code means (zypper(8), EXIT CODES). Codes below 100 are errors, 0 and the
 * ZYPPER_EXIT_INF_* codes are success with a note — except 105, which is "interrupted by a signal".
 */
import { PvepatchError } from '../../core/errors.js';
import type { ExecResult } from '../../core/exec.js';
import { zypperErrorText } from './parse-text.js';

export const ZYPPER_EXIT = {
  ok: 0,
  bug: 1,
  syntax: 2,
  invalidArgs: 3,
  zypp: 4,
  privileges: 5,
  noRepos: 6,
  zyppLocked: 7,
  commit: 8,
  updateNeeded: 100,
  securityUpdateNeeded: 101,
  rebootNeeded: 102,
  restartNeeded: 103,
  capabilityNotFound: 104,
  onSignal: 105,
  reposSkipped: 106,
  rpmScriptFailed: 107,
} as const;

const NOTES: Readonly<Record<number, string>> = {
  100: 'updates are available',
  101: 'security updates are available',
  102: 'a reboot is needed',
  103: 'zypper updated the package manager itself and must run again',
  104: 'a name matched no package',
  106: 'some repositories were skipped because they could not be refreshed',
  107: 'some %post scriptlets failed (the packages are installed)',
};

export function isZypperSuccess(code: number | null): boolean {
  return code === 0 || (code !== null && code in NOTES);
}

/** The meaning of an informational exit code, or null for 0 and for errors. */
export function exitNote(code: number | null): string | null {
  return code === null ? null : (NOTES[code] ?? null);
}

/** The error for a failed zypper run ('patch-failed' with zypper's own cause; locks never get here). */
export function zypperFailure(verb: string, res: ExecResult): PvepatchError {
  const code = res.exitCode === null ? `signal ${res.signal}` : `exit ${res.exitCode}`;
  const cause = zypperErrorText(res.stdout, res.stderr);
  const message = `unable to ${verb} - ${cause ? `${cause} (zypper ${code})` : `zypper ${code}`}`;
  return new PvepatchError('patch-failed', message, { details: { exitCode: res.exitCode } });
}
