/**
 * The undici Agent of one webhook channel: the system's CAs by default, or only the CA in
 * `ca_file`, or only the certificate whose SHA-256 fingerprint is pinned. Verification is never
 * switched off, and NODE_TLS_REJECT_UNAUTHORIZED is never touched.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { PvepatchError } from '../core/errors.js';
import { certificateFingerprint, normaliseFingerprint } from '../proxmox/tls.js';

export interface AgentTrust {
  ca_file?: string | undefined;
  fingerprint?: string | undefined;
}

export function webhookAgent(trust: AgentTrust, timeoutMs: number): Agent {
  const timeouts = { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs };
  if (trust.fingerprint) return new Agent({ ...timeouts, connect: pinned(normaliseFingerprint(trust.fingerprint)) });
  if (trust.ca_file) return new Agent({ ...timeouts, connect: { ca: readCaFile(trust.ca_file) } });
  return new Agent(timeouts);
}

/** The PEM text of a CA file; throws config-invalid when it is unreadable or no certificate. */
export function readCaFile(path: string): string {
  try {
    const pem = readFileSync(path, 'utf8');
    new X509Certificate(pem);
    return pem;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new PvepatchError(
      'config-invalid',
      `unable to use CA file '${path}' - ${why}; point ca-file at the PEM certificate of the CA`,
    );
  }
}

/** Refuses the connection, before a byte of the request is sent, unless the certificate matches. */
function pinned(pin: string): buildConnector.connector {
  // the chain of a pinned certificate is usually self-signed: the pin replaces the chain check.
  // No session resumption: a resumed session carries no peer certificate to check.
  const connect = buildConnector({ rejectUnauthorized: false, maxCachedSessions: 0 });
  return (options, callback) => {
    connect(options, (err, socket) => {
      if (err) return callback(err, null);
      const der = (socket as TLSSocket).getPeerCertificate?.()?.raw;
      const actual = der ? certificateFingerprint(der) : 'none';
      if (actual === pin) return callback(null, socket);
      socket.destroy();
      const e = new PvepatchError(
        'tls-failed',
        `TLS certificate fingerprint mismatch - the server presented ${actual}; check the channel's fingerprint`,
      );
      callback(e, null);
    });
  };
}
