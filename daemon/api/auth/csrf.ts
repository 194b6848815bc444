import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { AuthError } from './errors.js';

/** pve-common Ticket.pm: a CSRF token is good from 300 s before to 7200 s after its time stamp. */
export const CSRF_MIN_AGE = -300;
export const CSRF_MAX_AGE = 7200;
const MAX_CSRF_CHARS = 256;

function b64nopad(buf: Buffer): string {
  const b64 = buf.toString('base64');
  const pad = b64.indexOf('=');
  return pad < 0 ? b64 : b64.slice(0, pad);
}

/** `base64nopad(HMAC_SHA256(key="", www key file contents))` (AccessControl.pm `$get_csrfr_secret`). */
export function csrfSecret(wwwKey: Buffer | string): string {
  return b64nopad(createHmac('sha256', '').update(wwwKey).digest());
}

/** `HEX:base64nopad(HMAC_SHA256(key=secret, "HEX:<userid>"))` for time `now` (seconds). */
export function computeCsrfToken(secret: string, userid: string, now: number): string {
  const hex = Math.floor(now).toString(16).toUpperCase().padStart(8, '0');
  return `${hex}:${b64nopad(createHmac('sha256', secret).update(`${hex}:${userid}`).digest())}`;
}

/** Checks `CSRFPreventionToken`s locally against the node's www key; the key is re-read when the file changes. */
export class CsrfVerifier {
  private cached: { ino: number; mtimeMs: number; size: number; secret: string } | undefined;

  constructor(
    private readonly wwwKeyPath: string,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  private async secret(): Promise<string> {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(this.wwwKeyPath);
    } catch (err) {
      throw new AuthError('unauthenticated', `unable to verify CSRF token - cannot read ${this.wwwKeyPath}`, {
        cause: err,
      });
    }
    const c = this.cached;
    if (c && c.ino === st.ino && c.mtimeMs === st.mtimeMs && c.size === st.size) return c.secret;
    const key = await readFile(this.wwwKeyPath);
    const secret = csrfSecret(key);
    this.cached = { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size, secret };
    return secret;
  }

  /** Resolves when `token` is valid for `userid` now; otherwise throws 401 (the token is never echoed). */
  async verify(token: string | undefined, userid: string): Promise<void> {
    if (!token) throw new AuthError('unauthenticated', 'permission denied - missing CSRFPreventionToken header');
    const m = token.length <= MAX_CSRF_CHARS ? /^([0-9A-F]{8}):([A-Za-z0-9+/]{43})$/.exec(token) : null;
    if (!m) throw new AuthError('unauthenticated', 'permission denied - malformed CSRFPreventionToken');
    const time = Number.parseInt(m[1]!, 16);
    const expected = Buffer.from(computeCsrfToken(await this.secret(), userid, time));
    const given = Buffer.from(token);
    const ok = expected.length === given.length && timingSafeEqual(expected, given);
    const age = this.now() - time;
    if (!ok) throw new AuthError('unauthenticated', 'permission denied - invalid CSRFPreventionToken');
    if (!(age > CSRF_MIN_AGE && age < CSRF_MAX_AGE))
      throw new AuthError('unauthenticated', 'permission denied - CSRFPreventionToken expired, reload the web UI');
  }
}
