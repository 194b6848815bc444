import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type express from 'express';
import type { Config } from '../config/schema.js';
import { PvepatchError } from '../core/errors.js';

/**
 * The node's own certificate, so a browser that trusts the node's web UI trusts the API: on PVE the
 * custom pveproxy one if present, else the cluster-issued one; on PBS the proxy's.
 */
const CANDIDATES: readonly [string, string][] = [
  ['/etc/pve/local/pveproxy-ssl.pem', '/etc/pve/local/pveproxy-ssl.key'],
  ['/etc/pve/local/pve-ssl.pem', '/etc/pve/local/pve-ssl.key'],
  ['/etc/proxmox-backup/proxy.pem', '/etc/proxmox-backup/proxy.key'],
];

export function certificatePaths(cfg: Pick<Config, 'api_cert' | 'api_key'>): { cert: string; key: string } {
  if (cfg.api_cert || cfg.api_key) {
    if (!cfg.api_cert || !cfg.api_key)
      throw new PvepatchError(
        'config-invalid',
        'api_cert and api_key must be set together (PEM certificate chain and its key)',
      );
    return { cert: cfg.api_cert, key: cfg.api_key };
  }
  const found = CANDIDATES.find(([cert, key]) => existsSync(cert) && existsSync(key));
  if (!found) {
    throw new PvepatchError(
      'config-invalid',
      `unable to serve the HTTPS API - none of ${CANDIDATES.map(([c]) => c).join(', ')} exists; set api_cert and api_key, or api_port: 0 to turn the HTTPS API off`,
    );
  }
  return { cert: found[0], key: found[1] };
}

/** Serves the app over HTTPS on `port` (all addresses, like pveproxy), with the node's certificate. */
export async function listenHttps(app: express.Express, cfg: Config): Promise<Server> {
  const paths = certificatePaths(cfg);
  let tls: { cert: Buffer; key: Buffer };
  try {
    tls = { cert: readFileSync(paths.cert), key: readFileSync(paths.key) };
  } catch (err) {
    throw new PvepatchError(
      'config-invalid',
      `unable to read ${paths.cert} / ${paths.key} - ${(err as Error).message}`,
    );
  }
  const server = createServer({ ...tls, minVersion: 'TLSv1.2' }, app);
  server.headersTimeout = 15_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new PvepatchError(
          'config-invalid',
          `unable to listen on port ${cfg.api_port} - ${err.code === 'EADDRINUSE' ? 'another program uses it; pick a free api_port' : err.message}`,
        ),
      ),
    );
    server.listen(cfg.api_port, cfg.api_host, () => resolve());
  });
  return server;
}
