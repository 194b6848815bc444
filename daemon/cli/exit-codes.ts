import type { ErrorCode } from '../core/errors.js';
import type { RunReport } from '../engine/types.js';

/** Documented exit codes of `pvepatch` (README "Exit codes"). */
export const EXIT = {
  ok: 0,
  error: 1,
  nothingToUpdate: 2,
  invalidInput: 3,
  config: 4,
  refused: 5,
  failed: 6,
  proxmox: 7,
  /** Ctrl-C stopped following a run (128 + SIGINT); the run goes on in the daemon. */
  interrupted: 130,
} as const;

/** The one place error codes become CLI exit codes. */
export function exitCodeForError(code: ErrorCode | string): number {
  switch (code) {
    case 'input-invalid':
    case 'not-found':
      return EXIT.invalidInput;
    case 'unauthenticated':
    case 'forbidden':
    case 'rate-limited':
      return EXIT.refused;
    case 'config-invalid':
    case 'daemon-unavailable':
      return EXIT.config;
    case 'unreachable':
    case 'timeout':
    case 'auth-failed':
    case 'tls-failed':
    case 'proxmox-error':
      return EXIT.proxmox;
    case 'locked':
    case 'backup-running':
    case 'no-quorum':
    case 'protection-failed':
    case 'precheck-failed':
      return EXIT.refused;
    default:
      return EXIT.error;
  }
}

/**
 * failed beats refused (or interrupted: left untouched because the daemon stopped) beats done; a
 * run that changed nothing is "nothing to update".
 */
export function exitCodeForReport(report: Pick<RunReport, 'guests' | 'dry_run'>): number {
  const outcomes = report.guests.map((g) => g.outcome);
  if (outcomes.includes('failed') || outcomes.includes('rolled-back')) return EXIT.failed;
  if (outcomes.includes('refused') || outcomes.includes('interrupted')) return EXIT.refused;
  if (outcomes.includes('updated') || outcomes.includes('would-update')) return EXIT.ok;
  return EXIT.nothingToUpdate;
}
