import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { yumDriver } from '../../daemon/drivers/yum/index.js';
import { fixture } from './fixtures.js';
import { BEFORE, guest } from './yum-fake-guest.js';

const EXIT_ON_LOCK = { exitCode: 1, stderr: fixture('yum/lock-exit-on-lock.stderr.txt') };
/** The lock probe: the first line of yum's pid file (none held in the default guest). */
const YUM_PID = 'pidfile /var/run/yum.pid';

describe('yumDriver.upgrade (scripted CentOS 7 guest)', () => {
  it('reads holds and versions, probes yum.pid, updates with --exclude, reads the result back', async () => {
    const g = guest();
    const res = await yumDriver.upgrade(g.ctx, { exclude: ['quota'] });
    assert.deepEqual(g.events, [
      'yum.conf',
      'versionlock',
      'rpm-qa',
      YUM_PID,
      'conffiles',
      'upgrade',
      'rpm-qa',
      'reboot?',
      'reboot-pkgs',
      'needs-restarting?',
      'conffiles',
      'needs-restarting?',
    ]);
    assert.deepEqual(
      g.t.calls.find((c) => c.at(-1) === 'update'),
      ['env', 'LC_ALL=C', 'yum', '--setopt=exit_on_lock=1', '-y', '--exclude=quota', 'update'],
    );
    assert.deepEqual(res.changed, [
      { package: 'kernel', before: '3.10.0-1160.el7', after: '3.10.0-1160.119.1.el7' },
      { package: 'quota', before: '1:4.01-11.el7', after: '1:4.01-11.el7_2.1' },
      { package: 'sos', before: '3.2-35.el7', after: '3.2-36.el7ost.2' },
    ]);
    assert.equal(res.rebootRequired, true);
    assert.deepEqual(res.rebootPackages, ['kernel']);
    assert.deepEqual(res.adminHolds, ['kernel*', 'php*', 'openssl-libs']);
    assert.deepEqual(res.servicesToRestart, []);
  });

  it('needs-restarting, when installed, adds its packages and the services', async () => {
    const g = guest({
      'needs-restarting?': { exitCode: 0 },
      'needs-restarting -r': { exitCode: 1, stdout: fixture('yum/needs-restarting-required.txt') },
      'needs-restarting -s': { stdout: 'sshd.service\ncrond.service\n' },
    });
    const res = await yumDriver.upgrade(g.ctx, { exclude: [], securityOnly: true });
    assert.deepEqual(g.t.calls.find((c) => c.at(-1) === 'update')?.slice(4), ['-y', '--security', 'update']);
    assert.deepEqual(res.rebootPackages, ['kernel']);
    assert.deepEqual(res.servicesToRestart, ['crond.service', 'sshd.service']);
  });

  it('dry run: the --assumeno table without a saved transaction; nothing is locked or run', async () => {
    const g = guest({ 'rpm-qa': { stdout: BEFORE } });
    const res = await yumDriver.upgrade(g.ctx, { exclude: ['kernel'], dryRun: true });
    assert.ok(!g.events.includes('upgrade') && !g.events.includes(YUM_PID));
    assert.deepEqual(g.t.calls.find((c) => c.includes('--assumeno'))?.slice(4), [
      '--assumeno',
      '--setopt=autosavets=0',
      '--exclude=kernel',
      'update',
    ]);
    assert.equal(res.changed.length, 16);
    assert.deepEqual(res.changed[14], { package: 'lvm2', before: null, after: '7:2.02.180-10.el7_6.8' });
    // uname matches the installed 3.10.0-1160.el7 kernel, which has no newer sibling yet
    assert.equal(res.rebootRequired, false);
  });

  it('yum.pid held past the timeout: locked, naming yum, nothing run', async () => {
    const g = guest({ [YUM_PID]: { stdout: '2990\n' }, comm: { stdout: 'yum\n' } });
    await assert.rejects(yumDriver.upgrade(g.ctx, { exclude: [] }), {
      code: 'locked',
      message: 'unable to upgrade packages - yum lock /var/run/yum.pid is held by process 2990 (yum) after waiting 1s',
    });
    assert.ok(!g.events.includes('upgrade'));
    assert.deepEqual(g.t.calls.slice(3, 5), [
      ['head', '-n', '1', '--', '/var/run/yum.pid'],
      ['cat', '/proc/2990/comm'],
    ]);
  });

  it('a lock taken after the probe: exit_on_lock ends yum, the driver waits and runs it again', async () => {
    const g = guest({ upgrade: (n) => (n === 0 ? EXIT_ON_LOCK : { stdout: 'Complete!\n' }) }, 5000);
    await yumDriver.upgrade(g.ctx, { exclude: [] });
    assert.deepEqual(g.events.slice(5, 8), ['upgrade', YUM_PID, 'upgrade']);
  });

  it('a dependency failure is patch-failed with the Requires: line', async () => {
    const g = guest({ upgrade: { exitCode: 1, stdout: fixture('yum/deps-failed.txt') } });
    await assert.rejects(yumDriver.upgrade(g.ctx, { exclude: [] }), {
      code: 'patch-failed',
      message:
        'unable to upgrade packages - Package: resource-agents-4.0.1-1.el7.x86_64 (/resource-agents-4.0.1-1.el7.x86_64) Requires: /sbin/fuser',
    });
  });
});

describe('yumDriver read operations (scripted CentOS 7 guest)', () => {
  it('listUpdates: exit 100 rows with current versions and security flags; exit 0 is none', async () => {
    const g = guest();
    const list = await yumDriver.listUpdates(g.ctx);
    assert.deepEqual(g.events, ['check-update', 'updateinfo', 'rpm-qa']);
    assert.equal(list.length, 7);
    assert.deepEqual(
      list.find((u) => u.package === 'sos'),
      {
        package: 'sos',
        current_version: '3.2-35.el7',
        new_version: '3.2-36.el7ost.2',
        repository: 'rhelosp-9.0-puddle',
        security: true,
      },
    );
    assert.equal(list.filter((u) => u.security).length, 1);
    assert.deepEqual(await yumDriver.listUpdates(guest({ 'check-update': { exitCode: 0 } }).ctx), []);
  });

  it('listUpdates: an updateinfo-less yum flags nothing; a failing repository is patch-failed', async () => {
    const old = guest({
      updateinfo: { exitCode: 1, stderr: 'No such command: updateinfo. Please use /usr/bin/yum --help\n' },
    });
    assert.equal((await yumDriver.listUpdates(old.ctx)).filter((u) => u.security).length, 0);
    const broken = guest({ 'check-update': { exitCode: 1, stderr: fixture('yum/repo-failed.stderr.txt') } });
    await assert.rejects(yumDriver.listUpdates(broken.ctx), {
      code: 'patch-failed',
      message:
        /^unable to list updates - Cannot retrieve repository metadata \(repomd\.xml\) for repository: nodesource/,
    });
  });

  it('refresh waits for yum.pid and retries', async () => {
    const g = guest({ refresh: (n) => (n === 0 ? EXIT_ON_LOCK : {}) }, 5000);
    await yumDriver.refresh(g.ctx);
    assert.deepEqual(g.events, ['refresh', YUM_PID, 'refresh']);
  });

  it('precheck: yum check problems unless fixBroken', async () => {
    const g = guest({
      check: { exitCode: 1, stdout: fixture('yum/check-problems.txt'), stderr: 'Error: check all\n' },
    });
    assert.deepEqual((await yumDriver.precheck(g.ctx)).problems, [
      'yum check reports 2 problem(s) - webmin-2.011-1.noarch has missing requires of perl(Digest::SHA); webmin-2.011-1.noarch has missing requires of perl(Digest::MD5)',
    ]);
    assert.equal((await yumDriver.precheck(g.ctx, { fixBroken: true })).ok, true);
  });

  it('rebootRequired without needs-restarting: a VM running an older installed kernel', async () => {
    const g = guest({
      'rpm-qa': { stdout: `kernel\tx86_64\t3.10.0-1160.el7\nkernel\tx86_64\t3.10.0-1160.119.1.el7\n` },
    });
    assert.deepEqual(await yumDriver.rebootRequired(g.ctx), { required: true, packages: ['kernel'] });
    assert.deepEqual(g.events, ['reboot?', 'reboot-pkgs', 'needs-restarting?', 'uname', 'rpm-qa']);
  });
});
