/**
 * `pvepatch setup --remove` on a Proxmox VE node: the ACLs naming pvepatch's user or token, the
 * token, the user, the role, and the config file's pve_token (only when it is that token's).
 * Whatever is already gone is reported as absent, so a second run changes nothing.
 */
import { existsSync } from 'node:fs';
import { removeSharedFile } from '../cluster/shared-file.js';
import { pveum, type SetupBins } from './commands.js';
import { type ConfigState, editConfig } from './config-file.js';
import { PVE_ROLE, PVE_USER, pveTokenId, TOKEN_NAME } from './names.js';
import { pveAcls, pveRoles, pveTokens, pveUsers } from './parse.js';
import { sharedTokenFile } from './pve.js';
import type { Runner } from './runner.js';

export interface PveRemoveOptions {
  bins: SetupBins;
  config: ConfigState;
}

export async function pveRemove(r: Runner, o: PveRemoveOptions): Promise<void> {
  const b = o.bins;
  const mine = pveAcls(await r.query(pveum.aclList(b))).filter(
    (a) => (a.type === 'user' && a.ugid === PVE_USER) || (a.type === 'token' && a.ugid === pveTokenId),
  );
  for (const a of mine) {
    const who = { type: a.type as 'user' | 'token', id: a.ugid };
    await r.change(pveum.aclDelete(b, a.path, who, a.roleid));
    r.say(`acl ${a.path} ${a.roleid} for ${a.type} ${a.ugid}: removed`);
  }
  if (mine.length === 0) r.say(`acl: none for ${PVE_USER} or ${pveTokenId}`);
  const userExists = pveUsers(await r.query(pveum.userList(b))).includes(PVE_USER);
  const tokens = userExists ? pveTokens(await r.query(pveum.tokenList(b, PVE_USER))) : [];
  if (tokens.some((t) => t.tokenid === TOKEN_NAME)) {
    await r.change(pveum.tokenRemove(b, PVE_USER, TOKEN_NAME));
    r.say(`token ${pveTokenId}: removed`);
  } else r.say(`token ${pveTokenId}: absent`);
  if (userExists) {
    await r.change(pveum.userDelete(b, PVE_USER));
    r.say(`user ${PVE_USER}: removed`);
  } else r.say(`user ${PVE_USER}: absent`);
  if (pveRoles(await r.query(pveum.roleList(b))).some((x) => x.roleid === PVE_ROLE)) {
    await r.change(pveum.roleDelete(b, PVE_ROLE));
    r.say(`role ${PVE_ROLE}: removed`);
  } else r.say(`role ${PVE_ROLE}: absent`);
  await removeConfigToken(r, o.config);
  // the secret left for the other nodes of the cluster goes with the token
  const shared = sharedTokenFile(o.config.values);
  if (shared && existsSync(shared)) {
    if (!r.dryRun) await removeSharedFile(shared);
    r.say(`cluster: ${shared} ${r.dryRun ? 'would be ' : ''}removed`);
  }
}

async function removeConfigToken(r: Runner, config: ConfigState): Promise<void> {
  const token = config.values.pve_token;
  if (!token?.startsWith(`${pveTokenId}=`)) {
    r.say(`config ${config.path}: no pve_token of ${pveTokenId}, unchanged`);
    return;
  }
  await editConfig(config, { set: {}, delete: ['pve_token'] }, r.dryRun);
  r.say(`config ${config.path}: pve_token ${r.dryRun ? 'would be ' : ''}removed`);
}
