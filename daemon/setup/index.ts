/**
 * `pvepatch setup`: makes the least-privilege API user and token pvepatchd needs on this host
 * (Proxmox VE node or Proxmox Backup Server), writes the token where the daemon reads it, checks
 * it, and says what it did, one line per step. `dryRun` prints the commands instead; `remove`
 * undoes it. See readme.md.
 */
import { existsSync } from 'node:fs';
import { PvepatchError } from '../core/errors.js';
import { checkPveApi, type PbsCheck, type PveCheck, pbsApiCheck } from './check.js';
import { DEFAULT_BINS, dpkgVersion, type SetupBins } from './commands.js';
import { readConfigState } from './config-file.js';
import { DEFAULT_PBS_TOKEN_FILE } from './names.js';
import { installedVersion, majorOf } from './parse.js';
import { pbsRemove, pbsSetup } from './pbs.js';
import { pveSetup } from './pve.js';
import { pveRemove } from './pve-remove.js';
import { createRunner, type Runner } from './runner.js';
import { DEFAULT_TRUST_PATHS, type TrustPaths } from './trust.js';

export interface SetupOptions {
  /** The config file that gets pve_token (default /etc/pvepatch/pvepatch.conf). */
  configPath: string;
  dryRun?: boolean;
  remove?: boolean;
  /** Storages `fallback vzdump` may back up to: PVEDatastoreUser on `/storage/<id>`. */
  backupStorages?: string[];
  bins?: Partial<SetupBins>;
  trustPaths?: Partial<TrustPaths>;
  /** Where the PBS token goes (the config has no key for it yet). */
  pbsTokenFile?: string;
  pveCheck?: PveCheck;
  pbsCheck?: PbsCheck;
  out: (line: string) => void;
}

export type SetupHost = { kind: 'pve'; version: string; major: number } | { kind: 'pbs'; version: string };

const STORAGE_ID = /^[A-Za-z][A-Za-z0-9._-]{0,99}$/;

export async function runSetup(opts: SetupOptions): Promise<void> {
  const bins = { ...DEFAULT_BINS, ...opts.bins };
  for (const s of opts.backupStorages ?? []) {
    if (!STORAGE_ID.test(s)) throw new PvepatchError('input-invalid', `invalid storage id '${s}'`);
  }
  const r = createRunner(opts.dryRun ?? false, opts.out);
  const host = await detectHost(r, bins);
  if (r.dryRun) r.say('dry run: these commands would run; nothing is changed');
  if (host.kind === 'pbs') {
    r.say(`host: Proxmox Backup Server ${host.version}`);
    const tokenFile = opts.pbsTokenFile ?? DEFAULT_PBS_TOKEN_FILE;
    if (opts.remove) return pbsRemove(r, { bins, tokenFile });
    return pbsSetup(r, { bins, tokenFile, check: opts.pbsCheck ?? pbsApiCheck() });
  }
  r.say(`host: Proxmox VE ${host.version} (PVE ${host.major >= 9 ? '9' : '8'} privilege names)`);
  const config = await readConfigState(opts.configPath);
  if (opts.remove) return pveRemove(r, { bins, config });
  return pveSetup(r, {
    bins,
    major: host.major,
    config,
    trustPaths: { ...DEFAULT_TRUST_PATHS, ...opts.trustPaths },
    backupStorages: opts.backupStorages ?? [],
    check: opts.pveCheck ?? checkPveApi,
  });
}

/** PVE when pve-manager is installed (its version decides the privilege names), else PBS. */
export async function detectHost(r: Runner, bins: SetupBins): Promise<SetupHost> {
  const pve = installedVersion((await r.probe(dpkgVersion(bins, 'pve-manager'))) ?? '');
  const major = pve ? majorOf(pve) : undefined;
  if (pve && major !== undefined) return { kind: 'pve', version: pve, major };
  if (existsSync(bins.pbm)) {
    const pbs = installedVersion((await r.probe(dpkgVersion(bins, 'proxmox-backup-server'))) ?? '');
    return { kind: 'pbs', version: pbs ?? '(version unknown)' };
  }
  throw new PvepatchError(
    'not-found',
    `unable to set up - neither pve-manager nor ${bins.pbm} is installed; run 'pvepatch setup' on a Proxmox VE node or a Proxmox Backup Server`,
  );
}
