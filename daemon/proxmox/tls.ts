import { createHash, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { PvepatchError } from '../core/errors.js';

export interface TlsTrust {
  /** PEM of the CA (or self-signed certificate) that must have issued the server certificate. */
  caPem?: string;
  /** SHA-256 fingerprint of the server certificate, `AB:CD:…` (colons and case optional). */
  fingerprint?: string;
}

/** Normalises a fingerprint to upper-case colon-separated hex; throws for anything else. */
export function normaliseFingerprint(value: string): string {
  const hex = value.replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new PvepatchError(
      'config-invalid',
      `invalid TLS fingerprint '${value}' - expected 64 hex digits (SHA-256), e.g. from 'pvenode cert info'`,
    );
  }
  return hex.match(/../g)!.join(':');
}

export function certificateFingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

/**
 * An undici Agent that trusts exactly what the configuration names: a pinned CA (normal chain and
 * host-name verification against that CA only) or a pinned certificate fingerprint (the way
 * Proxmox's own clients pin a node certificate). Verification is never switched off globally.
 */
export function createDispatcher(
  trust: TlsTrust,
  timeoutMs: number,
  opts: { /** What a fingerprint mismatch tells the admin to check. */ mismatchHint?: string } = {},
): Agent {
  // one TLS handshake for a run's many short requests (task polls): idle connections stay open 30 s
  const timeouts = {
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: Math.min(timeoutMs, 10_000),
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
  };
  if (trust.fingerprint)
    return new Agent({
      ...timeouts,
      connect: pinnedConnector(normaliseFingerprint(trust.fingerprint), opts.mismatchHint ?? 'check pve_fingerprint'),
    });
  if (trust.caPem) {
    new X509Certificate(trust.caPem); // fails early on a file that is not a certificate
    return new Agent({ ...timeouts, connect: { ca: trust.caPem } });
  }
  throw new PvepatchError(
    'config-invalid',
    'no TLS trust configured - set pve_fingerprint (PVEPATCH_PVE_FINGERPRINT) or pve_ca (PVEPATCH_PVE_CA)',
  );
}

/**
 * The chain of a fingerprint-pinned certificate is usually self-signed, so the check is moved from
 * the chain to the certificate itself: the socket is refused before any byte of the request is
 * sent unless the peer certificate's SHA-256 equals the pin.
 */
function pinnedConnector(pin: string, hint: string): buildConnector.connector {
  // no session resumption: a resumed TLS 1.3 session carries no peer certificate to check
  const connect = buildConnector({ rejectUnauthorized: false, maxCachedSessions: 0 });
  return (options, callback) => {
    connect(options, (err, socket) => {
      if (err) return callback(err, null);
      const tls = socket as TLSSocket;
      const der = tls.getPeerCertificate?.()?.raw;
      const actual = der ? certificateFingerprint(der) : 'none';
      if (actual !== pin) {
        tls.destroy();
        const e = new PvepatchError(
          'tls-failed',
          `TLS certificate fingerprint mismatch - server presented ${actual}, expected ${pin}; ${hint}`,
        );
        return callback(e, null);
      }
      callback(null, socket);
    });
  };
}
