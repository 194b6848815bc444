import { type ErrorCode, PvepatchError } from '../../core/errors.js';
import { HTTP_STATUS } from '../http-status.js';

/** Codes the auth layer answers with. */
export type AuthErrorCode = Extract<
  ErrorCode,
  'unauthenticated' | 'forbidden' | 'rate-limited' | 'unreachable' | 'timeout'
>;

/**
 * An authentication/authorization failure (a PvepatchError, so the app's error handler maps it too),
 * with its HTTP status. Messages never contain a ticket, a token secret or a CSRF token.
 */
export class AuthError extends PvepatchError {
  declare readonly code: AuthErrorCode;
  readonly status: number;
  readonly retryAfter: number | undefined;

  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuthError';
    this.status = HTTP_STATUS[code];
    this.retryAfter = options?.retryAfter;
  }
}
