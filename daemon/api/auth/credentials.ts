import type { IncomingHttpHeaders } from 'node:http';
import { AuthError } from './errors.js';

/** Longest Cookie / Authorization header value looked at (pve-http-server allows 8 KiB per header). */
export const MAX_HEADER_CHARS = 8192;
/** Longest ticket accepted (a PVE ticket with a 4096-bit RSA signature is well under 1 KiB). */
export const MAX_TICKET_CHARS = 4096;
const MAX_USERID_CHARS = 128;

/** `user@realm`: user has no whitespace, ':' or '/'; realm as PVE's realm regex. */
const USERID = /^[^\s:/!]{1,64}@[A-Za-z][A-Za-z0-9._-]{1,31}$/;
/** Token name part of `user@realm!name` (PVE `$token_subid_regex`). */
const TOKEN_NAME = /^[A-Za-z][A-Za-z0-9._-]{1,63}$/;
/** `PVE:<userid>:<8 hex digits>::<signature>` (pve-common Ticket.pm, new-format ticket). */
const TICKET = /^PVE:([^:\s]{1,200}):([0-9A-F]{8})::([A-Za-z0-9+/=]+)$/;

export type Credential =
  | {
      kind: 'ticket';
      /** The ticket text, URI-decoded. */
      ticket: string;
      /** The user the ticket names (not yet verified - only pveproxy can verify the signature). */
      userid: string;
      /** Issue time in seconds since the epoch. */
      issued: number;
      via: 'cookie' | 'authorization';
    }
  | { kind: 'token'; tokenid: string; userid: string; secret: string };

/** Finds `key=value` or `key value` in a `;`-separated header the way pve-http-server does, URI-decoded. */
export function extractAuthValue(header: string | undefined, key: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const p = part.trim();
    if (p.length > key.length && p.startsWith(key) && (p[key.length] === '=' || p[key.length] === ' ')) {
      const raw = p.slice(key.length + 1);
      try {
        return decodeURIComponent(raw);
      } catch {
        throw new AuthError('unauthenticated', `authentication failure - malformed ${key} value (bad URI escape)`);
      }
    }
  }
  return undefined;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join('; ') : v;
}

/** Parses a PVE ticket's unverified fields; throws 401 for anything that is not ticket-shaped. */
export function parseTicket(
  ticket: string,
  via: 'cookie' | 'authorization' = 'cookie',
): Credential & { kind: 'ticket' } {
  if (ticket.length > MAX_TICKET_CHARS)
    throw new AuthError('unauthenticated', 'authentication failure - ticket too long');
  const m = TICKET.exec(ticket);
  if (!m)
    throw new AuthError(
      'unauthenticated',
      "authentication failure - malformed ticket (expected 'PVE:<userid>:<time>::<signature>')",
    );
  let userid: string;
  try {
    userid = decodeURIComponent(m[1]!);
  } catch {
    throw new AuthError('unauthenticated', 'authentication failure - malformed ticket user');
  }
  if (userid.length > MAX_USERID_CHARS || !USERID.test(userid))
    throw new AuthError('unauthenticated', 'authentication failure - malformed ticket user');
  return { kind: 'ticket', ticket, userid, issued: Number.parseInt(m[2]!, 16), via };
}

/** Parses `user@realm!name=secret` (as after `PVEAPIToken=`); throws 401 when malformed. */
export function parseToken(value: string): Credential & { kind: 'token' } {
  const bang = value.lastIndexOf('!');
  const eq = value.indexOf('=', bang + 1);
  const userid = bang > 0 ? value.slice(0, bang) : '';
  const name = bang > 0 && eq > bang ? value.slice(bang + 1, eq) : '';
  const secret = eq > bang ? value.slice(eq + 1) : '';
  if (!USERID.test(userid) || !TOKEN_NAME.test(name) || !/^[A-Za-z0-9-]{1,128}$/.test(secret))
    throw new AuthError(
      'unauthenticated',
      "authentication failure - malformed API token (expected 'PVEAPIToken=<user>@<realm>!<name>=<secret>')",
    );
  return { kind: 'token', tokenid: `${userid}!${name}`, userid, secret };
}

/**
 * The caller's credential, as pveproxy reads it: cookie `PVEAuthCookie` first (it wins over a token),
 * then `Authorization: PVEAuthCookie=<ticket>`, then `Authorization: PVEAPIToken=<id>=<secret>`.
 * Nothing → 401 "no ticket"; malformed → 401 saying what is wrong (never echoing the value).
 */
export function credentialsOf(req: { headers: IncomingHttpHeaders }): Credential {
  const cookie = single(req.headers.cookie);
  const authorization = single(req.headers.authorization);
  if ((cookie?.length ?? 0) > MAX_HEADER_CHARS || (authorization?.length ?? 0) > MAX_HEADER_CHARS)
    throw new AuthError('unauthenticated', 'authentication failure - Cookie or Authorization header too long');
  const fromCookie = extractAuthValue(cookie, 'PVEAuthCookie');
  if (fromCookie) return parseTicket(fromCookie, 'cookie');
  const fromHeader = extractAuthValue(authorization, 'PVEAuthCookie');
  if (fromHeader) return parseTicket(fromHeader, 'authorization');
  const token = extractAuthValue(authorization, 'PVEAPIToken');
  if (token) return parseToken(token);
  if (authorization)
    throw new AuthError(
      'unauthenticated',
      "authentication failure - unsupported Authorization scheme (use 'PVEAuthCookie=<ticket>' or 'PVEAPIToken=<id>=<secret>')",
    );
  throw new AuthError('unauthenticated', 'no ticket - log in to the Proxmox VE web UI or send an API token');
}

/** The text that identifies a credential to PVE (what is hashed for the cache key). */
export function credentialText(c: Credential): string {
  return c.kind === 'ticket' ? `ticket:${c.ticket}` : `token:${c.tokenid}=${c.secret}`;
}

/** Headers that present the credential to pveproxy (and nothing else of the caller's cookies). */
export function forwardHeaders(c: Credential): Record<string, string> {
  return c.kind === 'ticket'
    ? { cookie: `PVEAuthCookie=${encodeURIComponent(c.ticket)}` }
    : { authorization: `PVEAPIToken=${c.tokenid}=${c.secret}` };
}
