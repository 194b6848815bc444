/**
 * `pvepatch setup` on a Proxmox Backup Server: the user `pvepatch@pbs`, its token, read-only ACLs
 * with built-in roles (PBS has no custom roles) for the user and for the token (a PBS token always
 * needs its own ACLs and never has more than its user), and the token in its own 0600 file (the
 * config schema has no PBS token key yet). `--remove` undoes it; both are idempotent.
 */
import { PvepatchError } from '../core/errors.js';
import { type PbsCheck, tokenRejected } from './check.js';
import { pbm, type SetupBins } from './commands.js';
import { readPbsTokenFile, removePbsTokenFile, writePbsTokenFile } from './config-file.js';
import { COMMENT, PBS_USER, pbsTokenId, TOKEN_NAME } from './names.js';
import { type PbsAclRow, pbsAcls, pbsTokenSecret, pbsTokens, pbsUsers } from './parse.js';
import { PBS_GRANTS } from './privileges.js';
import type { Runner } from './runner.js';

export interface PbsSetupOptions {
  bins: SetupBins;
  tokenFile: string;
  check: PbsCheck;
}

export async function pbsSetup(r: Runner, o: PbsSetupOptions): Promise<void> {
  const b = o.bins;
  const userExisted = pbsUsers(await r.query(pbm.userList(b))).includes(PBS_USER);
  if (userExisted) r.say(`user ${PBS_USER}: already present`);
  else {
    await r.change(pbm.userCreate(b, PBS_USER, COMMENT));
    r.say(`user ${PBS_USER}: created (realm pbs, no password: it cannot log in)`);
  }
  const acls = pbsAcls(await r.query(pbm.aclList(b)));
  for (const g of PBS_GRANTS) await ensureAcl(r, b, acls, g.path, g.role, PBS_USER);
  const saved = await readPbsTokenFile(o.tokenFile);
  const tokens = userExisted ? pbsTokens(await r.query(pbm.tokenList(b, PBS_USER))) : [];
  let secret: string | undefined;
  if (!tokens.includes(pbsTokenId)) secret = await generate(r, b, `token ${pbsTokenId}: created`);
  else secret = await reuseOrRecreate(r, o, saved);
  for (const g of PBS_GRANTS) await ensureAcl(r, b, acls, g.path, g.role, pbsTokenId);
  if (secret !== undefined) {
    if (!r.dryRun) await writePbsTokenFile(o.tokenFile, pbsTokenId, secret);
    r.say(`token file ${o.tokenFile}: ${r.dryRun ? 'would be ' : ''}written, mode 0600`);
  } else r.say(`token file ${o.tokenFile}: unchanged`);
  if (r.dryRun) {
    r.say('check: skipped in a dry run');
    return;
  }
  await o.check({ tokenId: pbsTokenId, secret: secret ?? saved!.secret });
  r.say('check: the new token lists the running tasks of the PBS API');
}

async function reuseOrRecreate(
  r: Runner,
  o: PbsSetupOptions,
  saved: { id: string; secret: string } | undefined,
): Promise<string | undefined> {
  const what = `token ${pbsTokenId}`;
  if (saved?.id !== pbsTokenId) {
    await r.change(pbm.tokenDelete(o.bins, PBS_USER, TOKEN_NAME));
    return generate(r, o.bins, `${what}: re-created - its secret cannot be read back and ${o.tokenFile} has none`);
  }
  try {
    await o.check({ tokenId: saved.id, secret: saved.secret });
    r.say(`${what}: already present, ${o.tokenFile} holds a working secret`);
  } catch (err) {
    if (!tokenRejected(err)) {
      r.say(`${what}: already present, its secret could not be checked - ${(err as Error).message}`);
      return undefined;
    }
    await r.change(pbm.tokenDelete(o.bins, PBS_USER, TOKEN_NAME));
    return generate(r, o.bins, `${what}: re-created - PBS refused the secret in ${o.tokenFile}`);
  }
  return undefined;
}

async function generate(r: Runner, b: SetupBins, line: string): Promise<string> {
  const out = await r.change(pbm.tokenGenerate(b, PBS_USER, TOKEN_NAME));
  r.say(line);
  if (out === undefined) return '<secret printed by proxmox-backup-manager>';
  const made = pbsTokenSecret(out);
  if (made.id !== pbsTokenId) {
    throw new PvepatchError('output-invalid', `unable to create token ${pbsTokenId} - PBS made '${made.id}'`);
  }
  return made.secret;
}

async function ensureAcl(r: Runner, b: SetupBins, acls: PbsAclRow[], path: string, role: string, id: string) {
  const what = `acl ${path} ${role} for ${id}`;
  if (acls.some((a) => a.path === path && a.roleid === role && a.ugid === id && a.propagate !== false)) {
    r.say(`${what}: already present`);
    return;
  }
  await r.change(pbm.aclUpdate(b, path, role, id));
  r.say(`${what}: created`);
}

export async function pbsRemove(r: Runner, o: Omit<PbsSetupOptions, 'check'>): Promise<void> {
  const b = o.bins;
  const mine = pbsAcls(await r.query(pbm.aclList(b))).filter((a) => a.ugid === PBS_USER || a.ugid === pbsTokenId);
  for (const a of mine) {
    await r.change(pbm.aclDelete(b, a.path, a.roleid, a.ugid));
    r.say(`acl ${a.path} ${a.roleid} for ${a.ugid}: removed`);
  }
  if (mine.length === 0) r.say(`acl: none for ${PBS_USER} or ${pbsTokenId}`);
  const userExists = pbsUsers(await r.query(pbm.userList(b))).includes(PBS_USER);
  const tokens = userExists ? pbsTokens(await r.query(pbm.tokenList(b, PBS_USER))) : [];
  if (tokens.includes(pbsTokenId)) {
    await r.change(pbm.tokenDelete(b, PBS_USER, TOKEN_NAME));
    r.say(`token ${pbsTokenId}: removed`);
  } else r.say(`token ${pbsTokenId}: absent`);
  if (userExists) {
    await r.change(pbm.userRemove(b, PBS_USER));
    r.say(`user ${PBS_USER}: removed`);
  } else r.say(`user ${PBS_USER}: absent`);
  const had = (await readPbsTokenFile(o.tokenFile)) !== undefined;
  if (had && !r.dryRun) await removePbsTokenFile(o.tokenFile);
  r.say(`token file ${o.tokenFile}: ${had ? (r.dryRun ? 'would be removed' : 'removed') : 'absent'}`);
}
