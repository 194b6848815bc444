import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A PEM certificate and its key. */
export interface CertPair {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the DER certificate, `AB:CD:…`. */
  fingerprint: string;
}

/**
 * Test certificates made with `openssl` (P-256, valid 2 days). A CA (`CA:TRUE`, `keyCertSign`) signs leaf
 * server certificates (`CA:FALSE`, `serverAuth`, SANs). test/sim/cert.ts only makes self-signed leaves, which
 * a browser cannot trust as an authority, hence this helper.
 */
async function inTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'pvepatch-ui-cert-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A fresh root CA with subject `/CN=<cn>`. */
export function makeCa(cn = 'pvepatch test CA'): Promise<CertPair> {
  return inTemp(async (dir) => {
    const key = join(dir, 'ca.key');
    const cert = join(dir, 'ca.pem');
    await run('openssl', [
      'req',
      '-x509',
      ...EC,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    return pair(await readFile(cert, 'utf8'), await readFile(key, 'utf8'));
  });
}

/** A server certificate signed by `ca` for `hosts` (IP addresses and DNS names; default 127.0.0.1 and localhost). */
export function makeLeaf(ca: CertPair, hosts: string[] = ['127.0.0.1', 'localhost']): Promise<CertPair> {
  return inTemp(async (dir) => {
    const files = {
      caKey: join(dir, 'ca.key'),
      caCert: join(dir, 'ca.pem'),
      key: join(dir, 'leaf.key'),
      csr: join(dir, 'leaf.csr'),
      cert: join(dir, 'leaf.pem'),
      ext: join(dir, 'leaf.ext'),
    };
    await writeFile(files.caKey, ca.keyPem, { mode: 0o600 });
    await writeFile(files.caCert, ca.certPem);
    const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    await writeFile(
      files.ext,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${san}`,
        '',
      ].join('\n'),
    );
    await run('openssl', ['req', '-new', ...EC, '-subj', `/CN=${hosts[0]}`, '-keyout', files.key, '-out', files.csr]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      files.csr,
      '-CA',
      files.caCert,
      '-CAkey',
      files.caKey,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      files.ext,
      '-out',
      files.cert,
    ]);
    return pair(await readFile(files.cert, 'utf8'), await readFile(files.key, 'utf8'));
  });
}

function pair(certPem: string, keyPem: string): CertPair {
  return { certPem, keyPem, fingerprint: new X509Certificate(certPem).fingerprint256 };
}
