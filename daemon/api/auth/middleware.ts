import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { credentialsOf } from './credentials.js';
import { CsrfVerifier } from './csrf.js';
import { AuthError } from './errors.js';
import type { PermissionSource } from './permission-source.js';
import { type AuthAction, type AuthCaller, rootRefusal } from './privileges.js';
import { FailureLimiter } from './rate-limit.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AuthenticateOptions {
  source: PermissionSource;
  /** The node's `/etc/pve/pve-www.key` (config `pve_www_key`), or a ready verifier. */
  wwwKeyPath?: string;
  csrf?: CsrfVerifier;
  /** Failed-auth limiter per client address (default: 10 failures a minute). */
  limiter?: FailureLimiter;
  /**
   * Requests let through without credentials and without a caller (config `metrics_localhost`):
   * their credentials are not read, so they neither fail nor count against the limiter. The routes
   * they reach must need no caller.
   */
  anonymous?: (req: Request) => boolean;
}

/** The authenticated caller `authenticate` put on the response. */
export function authCallerOf(res: Response): AuthCaller {
  const caller = res.locals.caller as AuthCaller | undefined;
  if (!caller) throw new AuthError('unauthenticated', 'no ticket - request was not authenticated');
  return caller;
}

/** Writes an AuthError in the daemon's `{error:{code,message}}` shape. */
export function sendAuthError(res: Response, err: AuthError): void {
  if (err.retryAfter !== undefined) res.set('Retry-After', String(err.retryAfter));
  res.status(err.status).json({ error: { code: err.code, message: err.message } });
}

/**
 * Express middleware: reads the caller's PVE ticket or API token, checks the CSRF token for ticket
 * auth on state-changing methods, asks pveproxy for the caller's permissions and sets
 * `res.locals.caller` (an AuthCaller). Answers 401/429/502/504 itself; other errors go to `next`.
 */
export function authenticate(opts: AuthenticateOptions): RequestHandler {
  const csrf = opts.csrf ?? (opts.wwwKeyPath ? new CsrfVerifier(opts.wwwKeyPath) : undefined);
  if (!csrf) throw new Error('authenticate needs wwwKeyPath or csrf');
  const limiter = opts.limiter ?? new FailureLimiter();
  return async (req: Request, res: Response, next: NextFunction) => {
    if (opts.anonymous?.(req)) return next();
    const client = req.socket.remoteAddress ?? 'unknown';
    const wait = limiter.retryAfter(client);
    if (wait > 0) {
      sendAuthError(
        res,
        new AuthError('rate-limited', `too many failed authentications - retry in ${wait} s`, { retryAfter: wait }),
      );
      return;
    }
    try {
      const credential = credentialsOf(req);
      if (credential.kind === 'ticket' && !SAFE_METHODS.has(req.method))
        await csrf.verify(req.get('csrfpreventiontoken'), credential.userid);
      res.locals.caller = await opts.source.lookup(credential);
    } catch (err) {
      if (!(err instanceof AuthError)) return next(err);
      if (err.status === 401) limiter.fail(client);
      sendAuthError(res, err);
      return;
    }
    next();
  };
}

/** Middleware for node-wide routes: settings need Sys.Modify on /, audit and metrics Sys.Audit on /. */
export function requireRoot(action: AuthAction): RequestHandler {
  return (_req, res, next) => {
    const refusal = rootRefusal(authCallerOf(res), action);
    if (refusal) return sendAuthError(res, new AuthError('forbidden', refusal));
    next();
  };
}
