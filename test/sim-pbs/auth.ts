/**
 * PBS API-token auth as proxmox-auth-api `http_check_auth` / `extract_auth_data` does it: a
 * `PBSAuthCookie` cookie wins over the header (a ticket, which this simulator never accepts); the
 * `Authorization` value must start with `PBSAPIToken` followed by `=` or a space; the rest is split
 * at the first `:` into the token id and the percent-encoded secret.
 */

/** `user@realm!tokenname` (pbs-api-types `Authid` with a token name). */
const TOKEN_ID = /^[^\s:/@]+@[A-Za-z0-9_][A-Za-z0-9._-]*![A-Za-z0-9_][A-Za-z0-9._-]*$/;
const PREFIX = 'PBSAPIToken';

export type AuthOutcome = { ok: true; tokenId: string } | { ok: false; why: string };

export function checkAuth(
  authorization: string | undefined,
  cookie: string | undefined,
  tokens: ReadonlyMap<string, string>,
): AuthOutcome {
  if (cookie?.split(';').some((c) => /^\s*(__Host-)?PBSAuthCookie=/.test(c))) {
    return { ok: false, why: 'ticket authentication is not simulated' };
  }
  if (!authorization?.startsWith(PREFIX)) return { ok: false, why: 'no authentication credentials provided.' };
  const sep = authorization[PREFIX.length];
  if (sep !== '=' && sep !== ' ') return { ok: false, why: 'no authentication credentials provided.' };
  const value = authorization.slice(PREFIX.length + 1);
  const colon = value.indexOf(':');
  if (colon < 0) return { ok: false, why: 'failed to split API token header' };
  const tokenId = value.slice(0, colon);
  if (!TOKEN_ID.test(tokenId)) return { ok: false, why: `invalid token id '${tokenId}'` };
  let secret: string;
  try {
    secret = decodeURIComponent(value.slice(colon + 1));
  } catch {
    return { ok: false, why: 'failed to decode API token header' };
  }
  const expected = tokens.get(tokenId);
  if (expected === undefined) return { ok: false, why: 'user account or token disabled or expired.' };
  if (expected !== secret) return { ok: false, why: 'invalid API token secret' };
  return { ok: true, tokenId };
}
