/**
 * Which TLS trust setup writes for the daemon's PVE client. The cluster CA (`pve_ca`) is preferred:
 * every node's pve-ssl.pem is issued by it and it survives `pvecm updatecerts` and certificate
 * renewals, where a pinned fingerprint breaks at the next renewal. But once a node has its own
 * certificate (pveproxy-ssl.pem: ACME or uploaded), pveproxy serves that one, which the cluster CA
 * did not issue; then only the fingerprint of that certificate can be pinned (and setup re-run
 * after it is renewed).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { PvepatchError } from '../core/errors.js';

export interface TrustPaths {
  /** /etc/pve/pve-root-ca.pem */
  rootCa: string;
  /** /etc/pve/local/pveproxy-ssl.pem: a custom certificate, served instead of pve-ssl.pem */
  proxyCert: string;
  /** /etc/pve/local/pve-ssl.pem */
  nodeCert: string;
}

export const DEFAULT_TRUST_PATHS: TrustPaths = {
  rootCa: '/etc/pve/pve-root-ca.pem',
  proxyCert: '/etc/pve/local/pveproxy-ssl.pem',
  nodeCert: '/etc/pve/local/pve-ssl.pem',
};

export type TrustChoice =
  | { key: 'pve_ca'; value: string; why: string }
  | { key: 'pve_fingerprint'; value: string; why: string };

/** The trust to write; throws config-invalid when none of the files exists. */
export function chooseTrust(paths: TrustPaths): TrustChoice {
  if (existsSync(paths.proxyCert)) {
    return {
      key: 'pve_fingerprint',
      value: fingerprintOf(paths.proxyCert),
      why: `pveproxy serves the custom certificate ${paths.proxyCert}; re-run 'pvepatch setup' after it is renewed`,
    };
  }
  if (existsSync(paths.rootCa)) {
    return { key: 'pve_ca', value: paths.rootCa, why: 'the cluster CA, which issues every node certificate' };
  }
  if (existsSync(paths.nodeCert)) {
    return {
      key: 'pve_fingerprint',
      value: fingerprintOf(paths.nodeCert),
      why: `no cluster CA; pinned ${paths.nodeCert}`,
    };
  }
  throw new PvepatchError(
    'config-invalid',
    `unable to choose a TLS trust - none of ${paths.rootCa}, ${paths.proxyCert}, ${paths.nodeCert} exists; set pve_ca or pve_fingerprint`,
  );
}

/** SHA-256 of the first certificate in a PEM file, `AB:CD:…` as `openssl x509 -fingerprint -sha256`. */
export function fingerprintOf(path: string): string {
  try {
    return new X509Certificate(readFileSync(path)).fingerprint256;
  } catch (err) {
    throw new PvepatchError('config-invalid', `unable to read certificate '${path}' - ${(err as Error).message}`);
  }
}
