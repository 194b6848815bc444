/**
 * Every error pvepatch raises carries one code from this union. Codes map to HTTP statuses in
 * `daemon/api/http-status.ts` and to CLI exit codes in `daemon/cli/exit-codes.ts`.
 * Messages read like Proxmox's: `unable to <verb> <object> - <cause>`.
 */
export type ErrorCode =
  | 'config-invalid'
  | 'input-invalid'
  | 'not-found'
  | 'unreachable'
  | 'timeout'
  | 'auth-failed'
  | 'tls-failed'
  | 'proxmox-error'
  | 'task-failed'
  | 'locked'
  | 'backup-running'
  /** The cluster has no quorum: /etc/pve is read-only, nothing new is started. */
  | 'no-quorum'
  | 'protection-failed'
  | 'precheck-failed'
  | 'patch-failed'
  | 'driver-unsupported'
  | 'output-invalid'
  | 'daemon-unavailable'
  /** The caller of the daemon's HTTPS API gave no valid Proxmox ticket or token. */
  | 'unauthenticated'
  /** The caller's Proxmox privileges do not allow the request. */
  | 'forbidden'
  /** Too many failed logins from one source. */
  | 'rate-limited'
  | 'internal';

export class PvepatchError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PvepatchError';
    this.code = code;
    this.details = options?.details;
  }
}

/** The guest or host could not be reached at all (as opposed to: it answered "no"). */
export class UnreachableError extends PvepatchError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('unreachable', message, options);
    this.name = 'UnreachableError';
  }
}

export function isPvepatchError(err: unknown): err is PvepatchError {
  return err instanceof PvepatchError;
}

/** A one-line description of any thrown value, for logs and API answers. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
