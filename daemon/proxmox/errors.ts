import { type ErrorCode, PvepatchError } from '../core/errors.js';

/** An answer from the Proxmox API other than 200, with the status line Proxmox sent. */
export class ProxmoxApiError extends PvepatchError {
  readonly status: number;
  readonly method: string;
  readonly path: string;
  /** Per-parameter messages of a 400 "Parameter verification failed." */
  readonly paramErrors: Record<string, string> | undefined;

  constructor(opts: {
    status: number;
    method: string;
    path: string;
    message: string;
    paramErrors?: Record<string, string>;
  }) {
    const params = opts.paramErrors
      ? ` (${Object.entries(opts.paramErrors)
          .map(([k, v]) => `${k}: ${v}`)
          .join('; ')})`
      : '';
    super(codeForStatus(opts.status), `${opts.method} ${opts.path}: ${opts.status} ${opts.message}${params}`, {
      details: { status: opts.status },
    });
    this.name = 'ProxmoxApiError';
    this.status = opts.status;
    this.method = opts.method;
    this.path = opts.path;
    this.paramErrors = opts.paramErrors;
  }
}

function codeForStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'auth-failed';
  if (status === 400) return 'input-invalid';
  return 'proxmox-error';
}
