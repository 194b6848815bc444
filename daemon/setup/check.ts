/**
 * The connection check after setup: the new token against the local API, as the daemon will use it
 * (GET /version and GET /nodes, like the daemon's start-up check), plus GET /access/permissions on
 * `/` to prove the ACLs took effect. Injectable, so tests can point it at the simulator.
 */
import { readFileSync } from 'node:fs';
import { PvepatchError } from '../core/errors.js';
import { pbsRunningTasks } from '../pbs/api.js';
import { ProxmoxClient } from '../proxmox/client.js';
import type { TlsTrust } from '../proxmox/tls.js';
import { fingerprintOf } from './trust.js';

export interface PveCheckInput {
  url: string;
  /** `USER@REALM!ID=SECRET` */
  token: string;
  trust: TlsTrust;
  /** Privileges the token must have on `/`. */
  privs: string[];
}

export interface PveCheckResult {
  version: string;
  nodes: string[];
  /** Wanted privileges the token does not have on `/`. */
  missing: string[];
}

export type PveCheck = (input: PveCheckInput) => Promise<PveCheckResult>;

export const checkPveApi: PveCheck = async (input) => {
  const client = new ProxmoxClient({ url: input.url, token: input.token, ...input.trust, timeoutMs: 15_000 });
  try {
    const v = (await client.get('/version')) as { version?: string };
    const nodes = (await client.get('/nodes')) as { node?: string }[];
    const perms = (await client.get('/access/permissions', { path: '/' })) as Record<string, Record<string, number>>;
    const have = perms['/'] ?? {};
    return {
      version: v.version ?? '?',
      nodes: nodes.flatMap((n) => (n.node ? [n.node] : [])),
      missing: input.privs.filter((p) => !have[p]),
    };
  } finally {
    await client.close();
  }
};

/** The daemon's TLS trust from the config values (pve_fingerprint, else the pve_ca file). */
export function trustOf(values: Record<string, string>, defaultCa: string): TlsTrust {
  if (values.pve_fingerprint) return { fingerprint: values.pve_fingerprint };
  const path = values.pve_ca || defaultCa;
  try {
    return { caPem: readFileSync(path, 'utf8') };
  } catch (err) {
    throw new PvepatchError('config-invalid', `unable to read CA file '${path}' - ${(err as Error).message}`);
  }
}

/** Whether an error is Proxmox refusing the token (401), as opposed to not answering at all. */
export function tokenRejected(err: unknown): boolean {
  if (!(err instanceof PvepatchError)) return false;
  if ((err.details as { status?: number } | undefined)?.status === 401) return true;
  return err.code === 'auth-failed' && err.message.includes('(401)'); // the PBS client's wording
}

export interface PbsCheckInput {
  tokenId: string;
  secret: string;
}

export type PbsCheck = (input: PbsCheckInput) => Promise<void>;

/** The running-task list of the local PBS with the new token, pinned to the proxy's certificate. */
export function pbsApiCheck(url = 'https://127.0.0.1:8007', cert = '/etc/proxmox-backup/proxy.pem'): PbsCheck {
  return async (input) => {
    await pbsRunningTasks({ url, ...input, fingerprint: fingerprintOf(cert), timeoutMs: 15_000 });
  };
}
