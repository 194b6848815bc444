/**
 * `pvepatch setup` on a Proxmox VE node: the role, the user, the privilege-separated token, their
 * ACLs, the config file's pve_token and TLS trust, then a check with the new token. Every step
 * first looks at what exists, so a second run changes nothing.
 */
import { join } from 'node:path';
import { clusterModeOn, DEFAULT_CLUSTER_DIR } from '../cluster/paths.js';
import { readSharedText, writeSharedFile } from '../cluster/shared-file.js';
import { PvepatchError } from '../core/errors.js';
import { type PveCheck, type PveCheckResult, tokenRejected, trustOf } from './check.js';
import { type AclWho, pveum, type SetupBins } from './commands.js';
import { type ConfigState, editConfig } from './config-file.js';
import { COMMENT, PVE_ROLE, PVE_USER, pveTokenId, TOKEN_NAME } from './names.js';
import { privList, pveAcls, pveRoles, pveTokenSecret, pveTokens, pveUsers } from './parse.js';
import { PVE_STORAGE_ROLE, pveRolePrivs } from './privileges.js';
import type { Runner } from './runner.js';
import { chooseTrust, type TrustPaths } from './trust.js';

export interface PveSetupOptions {
  bins: SetupBins;
  major: number;
  config: ConfigState;
  trustPaths: TrustPaths;
  /** Storages the token may write vzdump backups to (`fallback vzdump`). */
  backupStorages: string[];
  check: PveCheck;
}

const USER_WHO: AclWho = { type: 'user', id: PVE_USER };
const TOKEN_WHO: AclWho = { type: 'token', id: pveTokenId };
const SECRET_PLACEHOLDER = '<secret printed by pveum>';

export async function pveSetup(r: Runner, o: PveSetupOptions): Promise<void> {
  const privs = pveRolePrivs(o.major);
  await ensureRole(r, o.bins, privs);
  const userExisted = await ensureUser(r, o.bins);
  const grants = [
    { path: '/', role: PVE_ROLE },
    ...o.backupStorages.map((s) => ({ path: `/storage/${s}`, role: PVE_STORAGE_ROLE })),
  ];
  const acls = pveAcls(await r.query(pveum.aclList(o.bins)));
  for (const g of grants) await ensureAcl(r, o.bins, acls, g.path, USER_WHO, g.role);
  const trust = await ensureTrust(r, o);
  const { secret, removed, fromCluster } = await ensureToken(r, o, userExisted, privs);
  // removing a token takes its ACLs along: ask again after a re-creation
  const tokenAcls = removed && !r.dryRun ? pveAcls(await r.query(pveum.aclList(o.bins))) : acls;
  for (const g of grants) await ensureAcl(r, o.bins, tokenAcls, g.path, TOKEN_WHO, g.role);
  await ensureConfigToken(r, o, secret);
  if (secret !== undefined && !fromCluster) await shareToken(r, o, secret);
  if (r.dryRun) {
    r.say('check: skipped in a dry run');
    return;
  }
  const res = await o.check({ url: apiUrl(o.config), token: o.config.values.pve_token ?? '', trust, privs });
  reportCheck(r, res);
}

async function ensureRole(r: Runner, b: SetupBins, privs: string[]): Promise<void> {
  const role = pveRoles(await r.query(pveum.roleList(b))).find((x) => x.roleid === PVE_ROLE);
  if (!role) {
    await r.change(pveum.roleAdd(b, PVE_ROLE, privs));
    r.say(`role ${PVE_ROLE}: created with ${privs.join(',')}`);
    return;
  }
  const have = privList(role.privs);
  if (have.join(',') === privs.join(',')) {
    r.say(`role ${PVE_ROLE}: already present with the same privileges`);
    return;
  }
  await r.change(pveum.roleModify(b, PVE_ROLE, privs));
  r.say(`role ${PVE_ROLE}: changed to ${privs.join(',')} (was ${have.join(',') || 'none'})`);
}

/** True when the user was there already. */
async function ensureUser(r: Runner, b: SetupBins): Promise<boolean> {
  if (pveUsers(await r.query(pveum.userList(b))).includes(PVE_USER)) {
    r.say(`user ${PVE_USER}: already present`);
    return true;
  }
  await r.change(pveum.userAdd(b, PVE_USER, COMMENT));
  r.say(`user ${PVE_USER}: created (realm pve, no password: it cannot log in)`);
  return false;
}

async function ensureAcl(
  r: Runner,
  b: SetupBins,
  acls: ReturnType<typeof pveAcls>,
  path: string,
  who: AclWho,
  role: string,
): Promise<void> {
  const what = `acl ${path} ${role} for ${who.type} ${who.id}`;
  const found = acls.some(
    (a) => a.path === path && a.type === who.type && a.ugid === who.id && a.roleid === role && a.propagate !== false,
  );
  if (found) {
    r.say(`${what}: already present`);
    return;
  }
  await r.change(pveum.aclModify(b, path, who, role));
  r.say(`${what}: created`);
}

interface TokenOutcome {
  /** The new token's secret, when one was made. */
  secret?: string;
  /** An old token was removed first (its ACLs went with it). */
  removed: boolean;
  /** The secret came from the cluster directory (another node's setup made the token). */
  fromCluster?: boolean;
}

/**
 * Cluster mode: where setup leaves the token's secret for the other nodes, as PVE keeps its own
 * secrets: under `<cluster_dir>/priv/`, which pmxcfs makes root-only (0600) on every node.
 */
export function sharedTokenFile(values: Record<string, string>): string | undefined {
  const dir = values.cluster_dir || DEFAULT_CLUSTER_DIR;
  return clusterModeOn(dir) ? join(dir, 'priv', 'pvepatch', 'pve_token') : undefined;
}

/** The secret another node's setup left, when Proxmox takes it; else undefined. */
async function clusterSecret(
  o: PveSetupOptions,
  privs: string[],
): Promise<{ file: string; secret: string } | undefined> {
  const file = sharedTokenFile(o.config.values);
  if (!file) return undefined;
  const text = (await readSharedText(file).catch(() => undefined))?.trim();
  if (!text?.startsWith(`${pveTokenId}=`)) return undefined;
  if ((await verifyConfiguredToken(o, text, privs)) !== 'ok') return undefined;
  return { file, secret: text.slice(pveTokenId.length + 1) };
}

/** A token made here: its secret goes where the other nodes' setup finds it (cluster mode). */
async function shareToken(r: Runner, o: PveSetupOptions, secret: string): Promise<void> {
  const file = sharedTokenFile(o.config.values);
  if (!file) return;
  if (r.dryRun) {
    r.say(`cluster: the token's secret would be written to ${file} for the other nodes' setup`);
    return;
  }
  await writeSharedFile(file, `${pveTokenId}=${secret}\n`);
  r.say(`cluster: the token's secret written to ${file} (root only), where setup on the other nodes finds it`);
}

/**
 * The token, with a secret the config file can hold.
 * A token's secret cannot be read back, so a token whose secret the config lacks (or that Proxmox
 * refuses) is removed and made again.
 */
async function ensureToken(
  r: Runner,
  o: PveSetupOptions,
  userExisted: boolean,
  privs: string[],
): Promise<TokenOutcome> {
  const what = `token ${pveTokenId}`;
  const tokens = userExisted ? pveTokens(await r.query(pveum.tokenList(o.bins, PVE_USER))) : [];
  const token = tokens.find((t) => t.tokenid === TOKEN_NAME);
  if (!token)
    return { secret: await createToken(r, o.bins, `${what}: created (privilege separation on)`), removed: false };
  const configured = o.config.values.pve_token ?? '';
  if (!configured.startsWith(`${pveTokenId}=`)) {
    // another node of the cluster made it: its secret is in the cluster directory
    const shared = await clusterSecret(o, privs);
    if (shared) {
      r.say(`${what}: already present, its secret taken from ${shared.file} (set up on another node of the cluster)`);
      return { secret: shared.secret, removed: false, fromCluster: true };
    }
    return recreateToken(
      r,
      o.bins,
      `${what}: re-created - its secret cannot be read back and ${o.config.path} has none`,
    );
  }
  const verdict = await verifyConfiguredToken(o, configured, privs);
  if (verdict === 'refused') {
    return recreateToken(r, o.bins, `${what}: re-created - Proxmox refused the secret in ${o.config.path}`);
  }
  if (token.privsep === false) {
    await r.change(pveum.tokenPrivsep(o.bins, PVE_USER, TOKEN_NAME));
    r.say(`${what}: changed to privilege separation on`);
  } else if (verdict === 'ok') r.say(`${what}: already present, ${o.config.path} holds a working secret`);
  else r.say(`${what}: already present, its secret in ${o.config.path} could not be checked - ${verdict.unknown}`);
  return { removed: false };
}

async function recreateToken(r: Runner, b: SetupBins, line: string): Promise<TokenOutcome> {
  await r.change(pveum.tokenRemove(b, PVE_USER, TOKEN_NAME));
  return { secret: await createToken(r, b, line), removed: true };
}

async function createToken(r: Runner, b: SetupBins, line: string): Promise<string> {
  const out = await r.change(pveum.tokenAdd(b, PVE_USER, TOKEN_NAME, COMMENT));
  r.say(line);
  if (out === undefined) return SECRET_PLACEHOLDER;
  const made = pveTokenSecret(out);
  if (made.id !== pveTokenId) {
    throw new PvepatchError('output-invalid', `unable to create token ${pveTokenId} - pveum made '${made.id}'`);
  }
  return made.secret;
}

async function verifyConfiguredToken(
  o: PveSetupOptions,
  token: string,
  privs: string[],
): Promise<'ok' | 'refused' | { unknown: string }> {
  try {
    await o.check({ url: apiUrl(o.config), token, trust: trustOf(o.config.values, o.trustPaths.rootCa), privs });
    return 'ok';
  } catch (err) {
    return tokenRejected(err) ? 'refused' : { unknown: (err as Error).message };
  }
}

/** The trust the config names, else the one chosen (written now); returned for the check. */
async function ensureTrust(r: Runner, o: PveSetupOptions) {
  const v = o.config.values;
  if (v.pve_ca || v.pve_fingerprint) {
    r.say(
      `config ${o.config.path}: TLS trust already set (${v.pve_fingerprint ? 'pve_fingerprint' : `pve_ca ${v.pve_ca}`})`,
    );
  } else {
    const choice = chooseTrust(o.trustPaths);
    await editConfig(o.config, { set: { [choice.key]: choice.value }, delete: [] }, r.dryRun);
    r.say(`config ${o.config.path}: ${choice.key} set to ${choice.value} (${choice.why})`);
  }
  return trustOf(o.config.values, o.trustPaths.rootCa);
}

async function ensureConfigToken(r: Runner, o: PveSetupOptions, secret: string | undefined): Promise<void> {
  if (secret === undefined) {
    r.say(`config ${o.config.path}: pve_token unchanged`);
    return;
  }
  const before = o.config.values.pve_token;
  await editConfig(o.config, { set: { pve_token: `${pveTokenId}=${secret}` }, delete: [] }, r.dryRun);
  const was = before ? ` (replacing the token ${before.split('=')[0]})` : '';
  r.say(`config ${o.config.path}: pve_token ${r.dryRun ? 'would be ' : ''}written, mode 0600${was}`);
}

function apiUrl(config: ConfigState): string {
  return config.values.pve_url || 'https://127.0.0.1:8006';
}

function reportCheck(r: Runner, res: PveCheckResult): void {
  r.say(`check: connected to Proxmox VE ${res.version} with the new token (nodes: ${res.nodes.join(', ') || 'none'})`);
  if (res.missing.length > 0) {
    throw new PvepatchError(
      'auth-failed',
      `unable to confirm the token's privileges - it lacks ${res.missing.join(', ')} on '/'; check 'pveum acl list'`,
    );
  }
  r.say(`check: the token has every privilege of ${PVE_ROLE} on /`);
}
