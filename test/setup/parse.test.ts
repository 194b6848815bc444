import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { main } from '../../daemon/cli/main.js';
import { shellQuote } from '../../daemon/setup/commands.js';
import { configValues } from '../../daemon/setup/config-file.js';
import { runSetup } from '../../daemon/setup/index.js';
import {
  installedVersion,
  majorOf,
  pbsTokenSecret,
  privList,
  pveAcls,
  pveRoles,
  pveTokenSecret,
  pveTokens,
} from '../../daemon/setup/parse.js';
import { pveRolePrivs } from '../../daemon/setup/privileges.js';
import { ALL_PRIVILEGES } from '../sim/access.js';
import { standInHost } from './stand-ins.js';

describe('setup parsers', () => {
  it('reads pveum JSON, ignoring fields it does not use', () => {
    assert.deepEqual(pveRoles('[{"roleid":"PVEPatch","privs":"VM.Audit,Sys.Audit","special":0,"new":1}]'), [
      { roleid: 'PVEPatch', privs: 'VM.Audit,Sys.Audit' },
    ]);
    assert.deepEqual(privList('VM.Audit, Sys.Audit VM.Snapshot'), ['Sys.Audit', 'VM.Audit', 'VM.Snapshot']);
    assert.deepEqual(pveTokens('[{"tokenid":"pvepatchd","privsep":1,"expire":0}]'), [
      { tokenid: 'pvepatchd', privsep: true },
    ]);
    assert.equal(
      pveAcls('[{"path":"/","type":"token","ugid":"a@pve!b","roleid":"R","propagate":0}]')[0]?.propagate,
      false,
    );
    assert.deepEqual(
      pveTokenSecret('{"full-tokenid":"pvepatch@pve!pvepatchd","info":{"privsep":"1"},"value":"0a1b"}'),
      { id: 'pvepatch@pve!pvepatchd', secret: '0a1b' },
    );
  });

  it("reads PBS generate-token output with or without the 'Result:' prefix", () => {
    const doc = 'Result: {\n  "tokenid": "john@pbs!client1",\n  "value": "d63e505a-e3ec-449a-9bc7-1da610d4ccde"\n}\n';
    assert.deepEqual(pbsTokenSecret(doc), { id: 'john@pbs!client1', secret: 'd63e505a-e3ec-449a-9bc7-1da610d4ccde' });
    assert.deepEqual(pbsTokenSecret('{"tokenid":"a@pbs!b","value":"s"}'), { id: 'a@pbs!b', secret: 's' });
  });

  it('refuses output of another shape without echoing it (it may hold a secret)', () => {
    assert.throws(
      () => pveTokenSecret('{"value":"SECRET-VALUE"}'),
      (e: Error) => /expected shape/.test(e.message) && !e.message.includes('SECRET'),
    );
    assert.throws(() => pveRoles('role list failed'), /not JSON/);
  });

  it('reads the installed version from dpkg-query', () => {
    assert.equal(installedVersion('installed 9.0.6'), '9.0.6');
    assert.equal(installedVersion('config-files 8.4.1'), undefined);
    assert.equal(installedVersion(''), undefined);
    assert.equal(majorOf('8.4.1'), 8);
    assert.equal(majorOf('x'), undefined);
  });

  it('config values: the last line of a key wins, comments are skipped', () => {
    assert.deepEqual(configValues('# pve_token: no\npve_token: a\n\npve_token: b\njunk\n'), { pve_token: 'b' });
  });
});

describe('setup privileges', () => {
  it('the PVE 9 role names only privileges PVE 9 knows; the PVE 8 one uses VM.Monitor for the agent', () => {
    for (const p of pveRolePrivs(9)) assert.ok(ALL_PRIVILEGES.includes(p), p);
    assert.ok(!pveRolePrivs(9).includes('VM.Monitor'));
    assert.deepEqual(
      pveRolePrivs(8).filter((p) => !pveRolePrivs(9).includes(p)),
      ['VM.Monitor'],
    );
    assert.ok(!pveRolePrivs(8).some((p) => p.startsWith('VM.GuestAgent.')));
  });
});

describe('shellQuote (display only)', () => {
  it('renders any argv so that sh reads back the same words', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\0')),
          { minLength: 1, maxLength: 4 },
        ),
        (argv) => {
          const back = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${shellQuote(argv)}`], { encoding: 'utf8' });
          assert.deepEqual(back.split('\0').slice(0, -1), argv);
        },
      ),
      { numRuns: 40 },
    );
    assert.equal(
      shellQuote(['pveum', 'acl', 'modify', '/', '--tokens', 'a@pve!b']),
      "pveum acl modify / --tokens 'a@pve!b'",
    );
  });
});

describe('pvepatch setup: host detection and the CLI', () => {
  it('refuses a host that is neither PVE nor PBS', async () => {
    const host = standInHost({});
    try {
      await assert.rejects(
        runSetup({ configPath: `${host.dir}/c.conf`, bins: host.bins, out: () => {} }),
        (e: Error & { code?: string }) => e.code === 'not-found' && /neither pve-manager nor/.test(e.message),
      );
    } finally {
      host.close();
    }
  });

  it("is registered as 'pvepatch setup' with --dry-run, --remove and --backup-storage", async () => {
    const out: string[] = [];
    assert.equal(await main(['setup', '--help'], { out: (s) => out.push(s), err: () => {} }), 0);
    for (const o of ['--dry-run', '--remove', '--backup-storage <id>']) assert.match(out.join('\n'), new RegExp(o));
  });
});
