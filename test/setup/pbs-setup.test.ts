import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PbsCheckInput } from '../../daemon/setup/check.js';
import { runSetup } from '../../daemon/setup/index.js';
import { type StandInHost, standInHost } from './stand-ins.js';

const PBM = 'proxmox-backup-manager';
const TOKEN = 'pvepatch@pbs!pvepatchd';
const COMMENT = 'API user of pvepatchd, made by pvepatch setup';
// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format
const DPKG = (pkg: string) => ['dpkg-query', '-W', '-f=${db:Status-Status} ${Version}', pkg];
const Q = {
  users: [PBM, 'user', 'list', '--output-format', 'json'],
  acls: [PBM, 'acl', 'list', '--output-format', 'json'],
  tokens: [PBM, 'user', 'list-tokens', 'pvepatch@pbs', '--output-format', 'json'],
};
const ACL = (path: string, role: string, id: string) => [PBM, 'acl', 'update', path, role, '--auth-id', id];

describe('pvepatch setup on a Proxmox Backup Server (stand-in proxmox-backup-manager)', () => {
  const secret = randomUUID();
  const checked: PbsCheckInput[] = [];
  let host: StandInHost;
  let tokenFile: string;
  const run = async (extra: { dryRun?: boolean; remove?: boolean } = {}) => {
    const lines: string[] = [];
    host.clearLog();
    await runSetup({
      configPath: join(host.dir, 'pvepatch.conf'),
      bins: host.bins,
      pbsTokenFile: tokenFile,
      pbsCheck: async (input) => {
        checked.push(input);
      },
      out: (l) => lines.push(l),
      ...extra,
    });
    return lines;
  };
  before(() => {
    host = standInHost({ pbs: '4.0.14-1', secrets: [secret] });
    tokenFile = join(host.dir, 'etc', 'pbs-token');
  });
  after(() => host.close());

  it('--dry-run prints the commands in order and changes nothing', async () => {
    const lines = await run({ dryRun: true });
    assert.deepEqual(
      lines.filter((l) => l.startsWith('  $ ')).map((l) => l.slice(4).replaceAll(`${host.dir}/`, '')),
      [
        `${PBM} user create pvepatch@pbs --comment 'API user of pvepatchd, made by pvepatch setup'`,
        `${PBM} acl update /system/tasks Audit --auth-id pvepatch@pbs`,
        `${PBM} acl update /datastore DatastoreAudit --auth-id pvepatch@pbs`,
        `${PBM} user generate-token pvepatch@pbs pvepatchd`,
        `${PBM} acl update /system/tasks Audit --auth-id '${TOKEN}'`,
        `${PBM} acl update /datastore DatastoreAudit --auth-id '${TOKEN}'`,
      ],
    );
    assert.deepEqual(host.log(), [DPKG('pve-manager'), DPKG('proxmox-backup-server'), Q.users, Q.acls]);
    assert.throws(() => statSync(tokenFile), /ENOENT/);
  });

  it('creates the user, the token and read-only ACLs, writes the token file (0600) and checks it', async () => {
    const lines = await run();
    assert.deepEqual(host.log(), [
      DPKG('pve-manager'),
      DPKG('proxmox-backup-server'),
      Q.users,
      [PBM, 'user', 'create', 'pvepatch@pbs', '--comment', COMMENT],
      Q.acls,
      ACL('/system/tasks', 'Audit', 'pvepatch@pbs'),
      ACL('/datastore', 'DatastoreAudit', 'pvepatch@pbs'),
      [PBM, 'user', 'generate-token', 'pvepatch@pbs', 'pvepatchd'],
      ACL('/system/tasks', 'Audit', TOKEN),
      ACL('/datastore', 'DatastoreAudit', TOKEN),
    ]);
    assert.equal(readFileSync(tokenFile, 'utf8'), `${TOKEN}:${secret}\n`);
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    assert.deepEqual(checked.at(-1), { tokenId: TOKEN, secret });
    assert.equal(lines[0], 'host: Proxmox Backup Server 4.0.14-1');
    assert.equal(lines.at(-1), 'check: the new token lists the running tasks of the PBS API');
  });

  it('changes nothing the second time', async () => {
    const lines = await run();
    assert.deepEqual(host.log(), [DPKG('pve-manager'), DPKG('proxmox-backup-server'), Q.users, Q.acls, Q.tokens]);
    assert.deepEqual(lines.slice(1, 8), [
      'user pvepatch@pbs: already present',
      'acl /system/tasks Audit for pvepatch@pbs: already present',
      'acl /datastore DatastoreAudit for pvepatch@pbs: already present',
      `token ${TOKEN}: already present, ${tokenFile} holds a working secret`,
      `acl /system/tasks Audit for ${TOKEN}: already present`,
      `acl /datastore DatastoreAudit for ${TOKEN}: already present`,
      `token file ${tokenFile}: unchanged`,
    ]);
  });

  it('--remove removes ACLs, token, user and token file; a second --remove changes nothing', async () => {
    await run({ remove: true });
    const del = (path: string, role: string, id: string) => [...ACL(path, role, id), '--delete', '1'];
    assert.deepEqual(host.log().slice(2), [
      Q.acls,
      del('/system/tasks', 'Audit', 'pvepatch@pbs'),
      del('/datastore', 'DatastoreAudit', 'pvepatch@pbs'),
      del('/system/tasks', 'Audit', TOKEN),
      del('/datastore', 'DatastoreAudit', TOKEN),
      Q.users,
      Q.tokens,
      [PBM, 'user', 'delete-token', 'pvepatch@pbs', 'pvepatchd'],
      [PBM, 'user', 'remove', 'pvepatch@pbs'],
    ]);
    assert.throws(() => statSync(tokenFile), /ENOENT/);
    assert.deepEqual([Object.keys(host.state().users), host.state().acls], [['root@pam'], []]);
    const again = await run({ remove: true });
    assert.deepEqual(host.log().slice(2), [Q.acls, Q.users]);
    assert.deepEqual(again.slice(1), [
      'acl: none for pvepatch@pbs or pvepatch@pbs!pvepatchd',
      `token ${TOKEN}: absent`,
      'user pvepatch@pbs: absent',
      `token file ${tokenFile}: absent`,
    ]);
  });
});
