import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { formatCheck } from '../../daemon/policy/checks.js';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../../daemon/policy/load.js';
import { explainPolicy, resolvePolicy } from '../../daemon/policy/resolve.js';

const dir = mkdtempSync(join(tmpdir(), 'pvepatch-policy-'));
const file = (name: string, content: string | Buffer, mode = 0o644) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
};

describe('policy file: loading', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has the documented default path', () => {
    assert.equal(DEFAULT_POLICY_PATH, '/etc/pvepatch/guests.conf');
  });

  it('treats a missing file as an empty policy', () => {
    assert.deepEqual(loadPolicy(join(dir, 'absent.conf')), { name: join(dir, 'absent.conf'), sections: [] });
  });

  it('reads a valid file', () => {
    const p = file('ok.conf', 'guest: 100\n\treboot never\n');
    assert.equal(loadPolicy(p).sections[0]?.settings.reboot, 'never');
  });

  it('refuses what it cannot read, never ignoring it', () => {
    const sub = join(dir, 'a-dir');
    mkdirSync(sub);
    assert.throws(() => loadPolicy(sub), /unable to read policy file '.*a-dir' - it is not a regular file/);
    assert.throws(() => loadPolicy(join(dir, 'ok.conf', 'x')), /unable to read policy file .* - ENOTDIR/);
    const big = file('big.conf', `defaults: all\n${'#'.repeat(1024 * 1024)}\n`);
    assert.throws(() => loadPolicy(big), /unable to read policy file .* - it is larger than 1048576 bytes/);
    const latin1 = file('latin1.conf', Buffer.from([0x23, 0x20, 0xe9, 0x0a]));
    assert.throws(() => loadPolicy(latin1), /it is not valid UTF-8/);
    const broken = file('broken.conf', 'guest: 100\n\treboot sometimes\n');
    assert.throws(() => loadPolicy(broken), new RegExp(`${broken}:2: key 'reboot': invalid value 'sometimes'`));
  });

  it('refuses a file others may write or another user owns, with the command that fixes it', () => {
    const open = file('open.conf', 'defaults: all\n', 0o666);
    assert.throws(() => loadPolicy(open), /group or others may write it \(mode 0666\) .*run: chmod 644/);
    const groupWritable = file('group.conf', 'defaults: all\n', 0o664);
    assert.throws(() => loadPolicy(groupWritable), /mode 0664/);
    const mine = file('mine.conf', 'defaults: all\n', 0o644);
    // as seen by a pvepatch running as another, unprivileged user: a root-owned file is fine...
    assert.equal(loadPolicy(mine, 4242).sections.length, 1);
    // ...and when this test runs unprivileged, a file of its own user is fine for its own uid only
    if (process.getuid?.() !== 0) assert.throws(() => loadPolicy(mine, 4242), /belongs to uid \d+, not root/);
  });

  it('parses the example in the readme, and resolves it as the readme says', () => {
    const readme = readFileSync(new URL('../../daemon/policy/readme.md', import.meta.url), 'utf8');
    const example = readme.split('## Example')[1]!.split('```')[1]!;
    const policy = loadPolicy(file('example.conf', example.replace(/^\n/, '')));
    const web = resolvePolicy(policy, { vmid: 120, type: 'lxc', tags: ['web', 'db'] });
    assert.equal(web.reboot, 'never'); // tag db comes after tag web
    assert.deepEqual(web.checks.map(formatCheck), [
      'service nginx.service',
      'service postgresql.service',
      'command /usr/bin/pg_isready -q',
    ]);
    const vm = resolvePolicy(policy, { vmid: 210, type: 'qemu', tags: [] });
    assert.equal(vm.transport, 'ssh');
    assert.equal(vm.fallbackStorage, 'backup-nfs');
    assert.deepEqual(vm.checks.map(formatCheck), ['http 80 /healthz 200', 'tcp 443']);
    assert.ok(
      explainPolicy(vm).includes('ssh-user: patcher (guest section, example.conf:25)'),
      explainPolicy(vm).join('\n'),
    );
    const pbs = resolvePolicy(policy, { vmid: 150, type: 'qemu', tags: [] });
    assert.equal(pbs.role, 'pbs');
    assert.equal(pbs.pbsMinFreeGb, 10);
    assert.equal(pbs.rebootTimeout, 900);
  });
});
