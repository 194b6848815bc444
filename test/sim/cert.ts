import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SimCert {
  keyPem: string;
  certPem: string;
  /** SHA-256 of the DER certificate, upper-case colon-separated hex. */
  fingerprint: string;
}

/**
 * A fresh self-signed P-256 certificate for `cn`, valid for 127.0.0.1 and localhost (like the SANs of
 * a node's pve-ssl.pem), made by `openssl req` in a temporary directory that is removed again.
 */
export async function makeCert(cn: string): Promise<SimCert> {
  const dir = await mkdtemp(join(tmpdir(), 'pvepatch-sim-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:${cn}`,
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    const certPem = await readFile(cert, 'utf8');
    const keyPem = await readFile(key, 'utf8');
    return { keyPem, certPem, fingerprint: new X509Certificate(certPem).fingerprint256 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
