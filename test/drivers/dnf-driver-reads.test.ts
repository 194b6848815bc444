import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dnfDriver } from '../../daemon/drivers/dnf/index.js';
import { guest } from './dnf-fake-guest.js';
import { fixture } from './fixtures.js';

describe('dnfDriver read operations (scripted guest)', () => {
  it('listUpdates: current and new versions, repository, security flag', async () => {
    const g = guest();
    const list = await dnfDriver.listUpdates(g.ctx);
    assert.deepEqual(g.events, ['repoquery', 'updateinfo', 'rpm-qa']);
    assert.deepEqual(
      list.find((u) => u.package === 'demo-sec'),
      {
        package: 'demo-sec',
        current_version: '1.0-1',
        new_version: '1.1-1',
        repository: 'demo-security',
        security: true,
      },
    );
    assert.deepEqual(
      list.filter((u) => u.security).map((u) => u.package),
      ['demo-sec'],
    );
    assert.equal(list.find((u) => u.package === 'kernel-core')?.current_version, '6.1.0-1');
  });

  it('listUpdates waits out a metadata lock and retries', async () => {
    const g = guest({
      repoquery: (n) => (n === 0 ? { exitCode: 200, stderr: fixture('dnf/lock-metadata.stderr.txt') } : { stdout: '' }),
    });
    assert.deepEqual(await dnfDriver.listUpdates(g.ctx), []);
    // the probe: one read per dnf pid file, then rpm's transaction lock; free, so repoquery runs again
    assert.deepEqual(g.events.slice(0, 6), [
      'repoquery',
      'pidfile /var/lib/dnf/rpmdb_lock.pid',
      'pidfile /var/cache/dnf/metadata_lock.pid',
      'pidfile /var/cache/dnf/download_lock.pid',
      'verifydb',
      'repoquery',
    ]);
    assert.deepEqual(g.t.calls[1], ['head', '-n', '1', '--', '/var/lib/dnf/rpmdb_lock.pid']);
  });

  it('refresh: a failure is patch-failed, a lock that stays is locked', async () => {
    const failed = guest({ refresh: { exitCode: 1, stderr: fixture('dnf/refresh-failed.stderr.txt') } });
    await assert.rejects(dnfDriver.refresh(failed.ctx), {
      code: 'patch-failed',
      message: /^unable to refresh package metadata - Failed to download metadata for repo 'demo'/,
    });
    const locked = guest({
      refresh: { exitCode: 200, stderr: fixture('dnf/lock-metadata.stderr.txt') },
      'pidfile /var/cache/dnf/metadata_lock.pid': { stdout: '13327\n' },
      comm: { stdout: 'dnf\n' },
    });
    await assert.rejects(dnfDriver.refresh(locked.ctx), {
      code: 'locked',
      message:
        'unable to refresh package metadata - dnf lock /var/cache/dnf/metadata_lock.pid is held by process 13327 (dnf) after waiting 1s',
    });
  });

  it('precheck: rpmdb problems unless fixBroken; a held lock always', async () => {
    const broken = guest({
      check: { exitCode: 1, stdout: fixture('dnf/check-broken.txt'), stderr: fixture('dnf/check-broken.stderr.txt') },
    });
    assert.deepEqual(await dnfDriver.precheck(broken.ctx), {
      ok: false,
      problems: ['dnf check reports 1 problem(s) - demo-app-1.1-1.noarch has missing requires of demo-lib >= 1.0'],
    });
    assert.deepEqual(await dnfDriver.precheck(broken.ctx, { fixBroken: true }), { ok: true, problems: [] });
    const locked = guest({ 'pidfile /var/lib/dnf/rpmdb_lock.pid': { stdout: '9\n' }, comm: { stdout: 'dnf\n' } });
    assert.deepEqual((await dnfDriver.precheck(locked.ctx, { fixBroken: true })).problems, [
      'unable to lock the package database - dnf lock /var/lib/dnf/rpmdb_lock.pid is held by process 9 (dnf) after waiting 1s',
    ]);
    const db = guest({ verifydb: { exitCode: 1, stderr: 'error: rpmdbVerify: database is corrupt\n' } });
    assert.deepEqual((await dnfDriver.precheck(db.ctx)).problems, [
      'rpm database does not verify - error: rpmdbVerify: database is corrupt',
    ]);
  });

  it('rebootRequired: the flag file, needs-restarting when present, else the running kernel', async () => {
    const container = guest();
    assert.deepEqual(await dnfDriver.rebootRequired(container.ctx), { required: false, packages: [] });
    assert.deepEqual(container.events, ['reboot?', 'reboot-pkgs', 'needs-restarting -r', 'uname', 'rpm-qa']);
    const flagged = guest({ 'reboot?': { exitCode: 0 }, 'reboot-pkgs': { stdout: 'demo-app\n' } });
    assert.deepEqual(await dnfDriver.rebootRequired(flagged.ctx), { required: true, packages: ['demo-app'] });
    const vm = guest({
      uname: { stdout: '6.1.0-1.noarch\n' },
      'rpm-qa': { stdout: 'kernel-core\tnoarch\t6.1.0-1\nkernel-core\tnoarch\t6.2.0-1\n' },
    });
    assert.deepEqual(await dnfDriver.rebootRequired(vm.ctx), { required: true, packages: ['kernel-core'] });
    const plugin = guest({
      'needs-restarting -r': {
        exitCode: 1,
        stdout:
          'Core libraries or services have been updated since boot-up:\n  * glibc\n\nReboot is required to fully utilize these updates.\n',
      },
    });
    assert.deepEqual(await dnfDriver.rebootRequired(plugin.ctx), { required: true, packages: ['glibc'] });
    assert.ok(!plugin.events.includes('uname'));
  });

  it('releaseHolds has nothing to release but still validates names', async () => {
    const g = guest();
    await dnfDriver.releaseHolds(g.ctx, ['demo-tool']);
    assert.deepEqual(g.events, []);
    await assert.rejects(dnfDriver.releaseHolds(g.ctx, ['$(reboot)']), { code: 'input-invalid' });
  });
});
