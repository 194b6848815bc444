import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProxmoxApiError } from '../../daemon/proxmox/errors.js';
import type { PveCheck } from '../../daemon/setup/check.js';
import { runSetup, type SetupOptions } from '../../daemon/setup/index.js';
import { startSim } from '../sim/server.js';
import type { Sim } from '../sim/types.js';
import { type StandInHost, standInHost } from './stand-ins.js';

const PRIVS9 =
  'Sys.Audit,VM.Audit,VM.Backup,VM.Config.Options,VM.GuestAgent.Audit,VM.GuestAgent.Unrestricted,VM.PowerMgmt,VM.Snapshot';
const PRIVS8 = 'Sys.Audit,VM.Audit,VM.Backup,VM.Config.Options,VM.Monitor,VM.PowerMgmt,VM.Snapshot';
const COMMENT = 'API user of pvepatchd, made by pvepatch setup';
const TOKEN = 'pvepatch@pve!pvepatchd';
// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format
const DPKG = ['dpkg-query', '-W', '-f=${db:Status-Status} ${Version}', 'pve-manager'];
const Q = {
  roles: ['pveum', 'role', 'list', '--output-format', 'json'],
  users: ['pveum', 'user', 'list', '--output-format', 'json'],
  acls: ['pveum', 'acl', 'list', '--output-format', 'json'],
  tokens: ['pveum', 'user', 'token', 'list', 'pvepatch@pve', '--output-format', 'json'],
};
const C = {
  roleAdd: (p: string) => ['pveum', 'role', 'add', 'PVEPatch', '--privs', p],
  userAdd: ['pveum', 'user', 'add', 'pvepatch@pve', '--comment', COMMENT],
  aclUser: (path = '/', role = 'PVEPatch') => [
    'pveum',
    'acl',
    'modify',
    path,
    '--users',
    'pvepatch@pve',
    '--roles',
    role,
  ],
  aclToken: (path = '/', role = 'PVEPatch') => ['pveum', 'acl', 'modify', path, '--tokens', TOKEN, '--roles', role],
  tokenAdd: [
    'pveum',
    'user',
    'token',
    'add',
    'pvepatch@pve',
    'pvepatchd',
    '--privsep',
    '1',
    '--comment',
    COMMENT,
    '--output-format',
    'json',
  ],
  tokenRemove: ['pveum', 'user', 'token', 'remove', 'pvepatch@pve', 'pvepatchd'],
};
const MUTATING = /^(add|modify|delete|remove)$/;

interface Outcome {
  lines: string[];
  error?: Error;
}

function options(host: StandInHost, config: string, extra: Partial<SetupOptions> = {}): SetupOptions {
  return {
    configPath: config,
    bins: host.bins,
    trustPaths: {
      rootCa: join(host.dir, 'pve-root-ca.pem'),
      proxyCert: join(host.dir, 'local', 'pveproxy-ssl.pem'),
      nodeCert: join(host.dir, 'local', 'pve-ssl.pem'),
    },
    out: () => {},
    ...extra,
  };
}

async function setup(host: StandInHost, config: string, extra: Partial<SetupOptions> = {}): Promise<Outcome> {
  const lines: string[] = [];
  try {
    await runSetup({ ...options(host, config, extra), out: (l) => lines.push(l) });
    return { lines };
  } catch (error) {
    return { lines, error: error as Error };
  }
}

/** Every argv the stand-ins received, each starting with the tool's name. */
function calls(host: StandInHost): string[][] {
  return host.log();
}

function printed(lines: string[], host: StandInHost): string[] {
  return lines.filter((l) => l.startsWith('  $ ')).map((l) => l.slice(4).replaceAll(`${host.dir}/`, ''));
}

const okCheck: PveCheck = async () => ({ version: '8.4.1', nodes: ['pve1'], missing: [] });

describe('pvepatch setup --dry-run (PVE)', () => {
  for (const [version, privs] of [
    ['9.0.6', PRIVS9],
    ['8.4.1', PRIVS8],
  ] as const) {
    it(`prints the pveum commands of a fresh PVE ${version} node in order and runs none of them`, async () => {
      const host = standInHost({ pve: version });
      try {
        writeFileSync(join(host.dir, 'pve-root-ca.pem'), 'not read in a dry run');
        const config = join(host.dir, 'pvepatch.conf');
        const res = await setup(host, config, { dryRun: true });
        assert.equal(res.error, undefined, res.error?.message);
        assert.deepEqual(printed(res.lines, host), [
          `pveum role add PVEPatch --privs ${privs}`,
          `pveum user add pvepatch@pve --comment 'API user of pvepatchd, made by pvepatch setup'`,
          'pveum acl modify / --users pvepatch@pve --roles PVEPatch',
          `pveum user token add pvepatch@pve pvepatchd --privsep 1 --comment 'API user of pvepatchd, made by pvepatch setup' --output-format json`,
          `pveum acl modify / --tokens 'pvepatch@pve!pvepatchd' --roles PVEPatch`,
        ]);
        assert.ok(calls(host).every((c) => !MUTATING.test(c[2] ?? '') && !MUTATING.test(c[3] ?? '')));
        assert.deepEqual(calls(host), [DPKG, Q.roles, Q.users, Q.acls]);
        assert.throws(() => statSync(config), /ENOENT/);
        assert.ok(res.lines.includes('check: skipped in a dry run'));
      } finally {
        host.close();
      }
    });
  }
});

describe('pvepatch setup on PVE 9 against the stand-in pveum and the API simulator', () => {
  const secret = randomUUID();
  let host: StandInHost;
  let sim: Sim;
  let config: string;
  before(async () => {
    host = standInHost({ pve: '9.0.6', secrets: [secret] });
    sim = await startSim({ nodes: ['pve1', 'pve2'], guests: [], tokens: [{ id: TOKEN, secret, privsep: true }] });
    // what the stand-in pveum will have made, mirrored in the API the check asks
    sim.addUser('pvepatch@pve');
    sim.addRole('PVEPatch', PRIVS9.split(','));
    sim.setAcl({ path: '/', roles: ['PVEPatch'], users: ['pvepatch@pve'], tokens: [TOKEN] });
    writeFileSync(join(host.dir, 'pve-root-ca.pem'), sim.caPem);
    config = join(host.dir, 'pvepatch.conf');
    writeFileSync(config, `# pvepatch\npve_url: ${sim.url}\n\n# more guests at once\nconcurrency: 3\n`, {
      mode: 0o644,
    });
  });
  after(async () => {
    await sim.close();
    host.close();
  });

  it('creates the role, the user, the token and the ACLs, writes the config and checks the token', async () => {
    const res = await setup(host, config);
    assert.equal(res.error, undefined, res.error?.message);
    assert.deepEqual(calls(host), [
      DPKG,
      Q.roles,
      C.roleAdd(PRIVS9),
      Q.users,
      C.userAdd,
      Q.acls,
      C.aclUser(),
      C.tokenAdd,
      C.aclToken(),
    ]);
    const ca = join(host.dir, 'pve-root-ca.pem');
    assert.equal(
      readFileSync(config, 'utf8'),
      `# pvepatch\npve_url: ${sim.url}\n\n# more guests at once\nconcurrency: 3\npve_ca: ${ca}\npve_token: ${TOKEN}=${secret}\n`,
    );
    assert.equal(statSync(config).mode & 0o777, 0o600);
    const st = host.state();
    assert.deepEqual(st.roles.PVEPatch, PRIVS9.split(','));
    assert.deepEqual(
      st.acls.map((a) => `${a.path} ${a.type} ${a.ugid} ${a.roleid}`),
      ['/ user pvepatch@pve PVEPatch', `/ token ${TOKEN} PVEPatch`],
    );
    assert.deepEqual(res.lines, [
      'host: Proxmox VE 9.0.6 (PVE 9 privilege names)',
      `role PVEPatch: created with ${PRIVS9}`,
      'user pvepatch@pve: created (realm pve, no password: it cannot log in)',
      'acl / PVEPatch for user pvepatch@pve: created',
      `config ${config}: pve_ca set to ${ca} (the cluster CA, which issues every node certificate)`,
      `token ${TOKEN}: created (privilege separation on)`,
      `acl / PVEPatch for token ${TOKEN}: created`,
      `config ${config}: pve_token written, mode 0600`,
      'check: connected to Proxmox VE 8.4.1 with the new token (nodes: pve1, pve2)',
      'check: the token has every privilege of PVEPatch on /',
    ]);
    assert.deepEqual(
      sim.requests.filter((r) => r.authid === TOKEN).map((r) => `${r.method} ${r.path} ${r.status}`),
      ['GET /version 200', 'GET /nodes 200', 'GET /access/permissions 200'],
    );
  });

  it('changes nothing the second time', async () => {
    host.clearLog();
    const before = readFileSync(config, 'utf8');
    const res = await setup(host, config);
    assert.equal(res.error, undefined, res.error?.message);
    assert.deepEqual(calls(host), [DPKG, Q.roles, Q.users, Q.acls, Q.tokens]);
    assert.equal(readFileSync(config, 'utf8'), before);
    assert.deepEqual(res.lines.slice(1, 8), [
      'role PVEPatch: already present with the same privileges',
      'user pvepatch@pve: already present',
      'acl / PVEPatch for user pvepatch@pve: already present',
      `config ${config}: TLS trust already set (pve_ca ${join(host.dir, 'pve-root-ca.pem')})`,
      `token ${TOKEN}: already present, ${config} holds a working secret`,
      `acl / PVEPatch for token ${TOKEN}: already present`,
      `config ${config}: pve_token unchanged`,
    ]);
  });

  it('--remove removes the ACLs, the token, the user, the role and pve_token; a second --remove changes nothing', async () => {
    host.clearLog();
    const res = await setup(host, config, { remove: true });
    assert.equal(res.error, undefined, res.error?.message);
    assert.deepEqual(calls(host), [
      DPKG,
      Q.acls,
      ['pveum', 'acl', 'delete', '/', '--users', 'pvepatch@pve', '--roles', 'PVEPatch'],
      ['pveum', 'acl', 'delete', '/', '--tokens', TOKEN, '--roles', 'PVEPatch'],
      Q.users,
      Q.tokens,
      C.tokenRemove,
      ['pveum', 'user', 'delete', 'pvepatch@pve'],
      Q.roles,
      ['pveum', 'role', 'delete', 'PVEPatch'],
    ]);
    const st = host.state();
    assert.deepEqual([st.roles, Object.keys(st.users), st.acls], [{}, ['root@pam'], []]);
    const text = readFileSync(config, 'utf8');
    assert.ok(!text.includes('pve_token'));
    assert.ok(text.startsWith(`# pvepatch\npve_url: ${sim.url}\n\n# more guests at once\nconcurrency: 3\n`));
    assert.equal(statSync(config).mode & 0o777, 0o600);

    host.clearLog();
    const again = await setup(host, config, { remove: true });
    assert.equal(again.error, undefined, again.error?.message);
    assert.deepEqual(calls(host), [DPKG, Q.acls, Q.users, Q.roles]);
    assert.equal(readFileSync(config, 'utf8'), text);
    assert.deepEqual(again.lines.slice(1), [
      'acl: none for pvepatch@pve or pvepatch@pve!pvepatchd',
      `token ${TOKEN}: absent`,
      'user pvepatch@pve: absent',
      'role PVEPatch: absent',
      `config ${config}: no pve_token of ${TOKEN}, unchanged`,
    ]);
  });
});

describe('pvepatch setup repairs what differs (PVE 8)', () => {
  it('sets a role with other privileges to exactly the set, with the PVE 8 names', async () => {
    const host = standInHost({ pve: '8.4.1' });
    try {
      writeFileSync(join(host.dir, 'pve-root-ca.pem'), 'x');
      host.setState({ roles: { PVEPatch: ['VM.Audit', 'VM.Console'] } });
      const res = await setup(host, join(host.dir, 'pvepatch.conf'), { pveCheck: okCheck });
      assert.equal(res.error, undefined, res.error?.message);
      assert.deepEqual(calls(host)[2], ['pveum', 'role', 'modify', 'PVEPatch', '--privs', PRIVS8]);
      assert.ok(res.lines.includes(`role PVEPatch: changed to ${PRIVS8} (was VM.Audit,VM.Console)`));
      assert.deepEqual(host.state().roles.PVEPatch, PRIVS8.split(','));
    } finally {
      host.close();
    }
  });

  it('re-creates a token whose secret the config lacks, or that Proxmox refuses, and says so', async () => {
    const [first, second, third] = [randomUUID(), randomUUID(), randomUUID()];
    const host = standInHost({ pve: '8.4.1', secrets: [first, second, third] });
    try {
      writeFileSync(join(host.dir, 'pve-root-ca.pem'), 'x');
      const config = join(host.dir, 'pvepatch.conf');
      assert.equal((await setup(host, config, { pveCheck: okCheck })).error, undefined);
      writeFileSync(config, '# emptied by hand\n', { mode: 0o600 });
      host.clearLog();
      const res = await setup(host, config, { pveCheck: okCheck });
      assert.equal(res.error, undefined, res.error?.message);
      const mutations = calls(host).filter((c) => MUTATING.test(c[2] ?? '') || MUTATING.test(c[3] ?? ''));
      assert.deepEqual(mutations, [C.tokenRemove, C.tokenAdd, C.aclToken()]);
      assert.ok(
        res.lines.includes(`token ${TOKEN}: re-created - its secret cannot be read back and ${config} has none`),
      );
      assert.match(readFileSync(config, 'utf8'), new RegExp(`pve_token: ${TOKEN}=${second}\n`));

      const refused: PveCheck = async (input) => {
        if (input.token.endsWith(second)) {
          throw new ProxmoxApiError({ status: 401, method: 'GET', path: '/version', message: 'invalid token value!' });
        }
        return okCheck(input);
      };
      host.clearLog();
      const again = await setup(host, config, { pveCheck: refused });
      assert.equal(again.error, undefined, again.error?.message);
      assert.ok(again.lines.includes(`token ${TOKEN}: re-created - Proxmox refused the secret in ${config}`));
      assert.match(readFileSync(config, 'utf8'), new RegExp(`pve_token: ${TOKEN}=${third}\n`));
    } finally {
      host.close();
    }
  });

  it("in a cluster, the next node's setup takes the token's secret from <cluster_dir>/priv/pvepatch instead of re-creating it", async () => {
    const [first, second] = [randomUUID(), randomUUID()];
    const host = standInHost({ pve: '8.4.1', secrets: [first, second] });
    try {
      writeFileSync(join(host.dir, 'pve-root-ca.pem'), 'x');
      const clusterDir = join(host.dir, 'pve');
      mkdirSync(clusterDir);
      const shared = join(clusterDir, 'priv', 'pvepatch', 'pve_token');
      // node 1: creates the token and leaves its secret for the others
      const node1 = join(host.dir, 'node1.conf');
      writeFileSync(node1, `cluster_dir: ${clusterDir}\n`, { mode: 0o600 });
      const one = await setup(host, node1, { pveCheck: okCheck });
      assert.equal(one.error, undefined, one.error?.message);
      assert.equal(readFileSync(shared, 'utf8'), `${TOKEN}=${first}\n`);
      assert.ok(
        one.lines.some((l) => l.startsWith(`cluster: the token's secret written to ${shared}`)),
        one.lines.join('\n'),
      );
      // node 2: same cluster, its own config without a secret: no re-creation (node 1 keeps working)
      const node2 = join(host.dir, 'node2.conf');
      writeFileSync(node2, `cluster_dir: ${clusterDir}\n`, { mode: 0o600 });
      host.clearLog();
      const checked: string[] = [];
      const two = await setup(host, node2, {
        pveCheck: async (input) => {
          checked.push(input.token);
          return okCheck(input);
        },
      });
      assert.equal(two.error, undefined, two.error?.message);
      const mutations = calls(host).filter((c) => MUTATING.test(c[2] ?? '') || MUTATING.test(c[3] ?? ''));
      assert.deepEqual(mutations, [], 'nothing re-created');
      assert.ok(
        two.lines.includes(
          `token ${TOKEN}: already present, its secret taken from ${shared} (set up on another node of the cluster)`,
        ),
        two.lines.join('\n'),
      );
      assert.match(readFileSync(node2, 'utf8'), new RegExp(`pve_token: ${TOKEN}=${first}\n`));
      assert.ok(checked.includes(`${TOKEN}=${first}`), 'the shared secret was checked with Proxmox first');
      // --remove takes the shared secret along
      const rm = await setup(host, node2, { remove: true });
      assert.equal(rm.error, undefined, rm.error?.message);
      assert.equal(existsSync(shared), false);
    } finally {
      host.close();
    }
  });

  it('keeps a token it cannot check (API down) and fails the run on the final check', async () => {
    const host = standInHost({ pve: '8.4.1' });
    try {
      writeFileSync(join(host.dir, 'pve-root-ca.pem'), 'x');
      const config = join(host.dir, 'pvepatch.conf');
      assert.equal((await setup(host, config, { pveCheck: okCheck })).error, undefined);
      host.clearLog();
      const down: PveCheck = async () => {
        throw new Error('GET /version: unable to connect to Proxmox API - ECONNREFUSED');
      };
      const res = await setup(host, config, { pveCheck: down });
      assert.match(res.error?.message ?? '', /ECONNREFUSED/);
      assert.ok(calls(host).every((c) => !MUTATING.test(c[2] ?? '') && !MUTATING.test(c[3] ?? '')));
      assert.ok(res.lines.some((l) => l.includes('already present, its secret in') && l.includes('ECONNREFUSED')));
    } finally {
      host.close();
    }
  });

  it('--backup-storage grants PVEDatastoreUser on that storage to the user and the token', async () => {
    const host = standInHost({ pve: '8.4.1' });
    try {
      writeFileSync(join(host.dir, 'pve-root-ca.pem'), 'x');
      const res = await setup(host, join(host.dir, 'pvepatch.conf'), {
        pveCheck: okCheck,
        backupStorages: ['backup-nfs'],
      });
      assert.equal(res.error, undefined, res.error?.message);
      const acl = calls(host).filter((c) => c[1] === 'acl' && c[2] === 'modify');
      assert.deepEqual(acl, [
        C.aclUser(),
        C.aclUser('/storage/backup-nfs', 'PVEDatastoreUser'),
        C.aclToken(),
        C.aclToken('/storage/backup-nfs', 'PVEDatastoreUser'),
      ]);
    } finally {
      host.close();
    }
  });

  it('pins the fingerprint of a custom pveproxy certificate instead of the cluster CA', async () => {
    const host = standInHost({ pve: '8.4.1' });
    const sim = await startSim({ guests: [], tokens: [] });
    try {
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(host.dir, 'local'));
      writeFileSync(join(host.dir, 'pve-root-ca.pem'), 'x');
      writeFileSync(join(host.dir, 'local', 'pveproxy-ssl.pem'), sim.caPem);
      const config = join(host.dir, 'pvepatch.conf');
      const res = await setup(host, config, { pveCheck: okCheck });
      assert.equal(res.error, undefined, res.error?.message);
      assert.match(readFileSync(config, 'utf8'), new RegExp(`^pve_fingerprint: ${sim.fingerprint}$`, 'm'));
    } finally {
      await sim.close();
      host.close();
    }
  });
});
