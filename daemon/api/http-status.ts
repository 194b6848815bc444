import type { ErrorCode } from '../core/errors.js';

/** The one place error codes become HTTP statuses of the daemon's API. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  'config-invalid': 500,
  'input-invalid': 400,
  'not-found': 404,
  unreachable: 502,
  timeout: 504,
  'auth-failed': 502,
  'tls-failed': 502,
  'proxmox-error': 502,
  'task-failed': 500,
  locked: 409,
  'backup-running': 409,
  'no-quorum': 503,
  'protection-failed': 500,
  'precheck-failed': 409,
  'patch-failed': 500,
  'driver-unsupported': 422,
  'output-invalid': 502,
  'daemon-unavailable': 503,
  unauthenticated: 401,
  forbidden: 403,
  'rate-limited': 429,
  internal: 500,
};
