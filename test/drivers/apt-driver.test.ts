import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PvepatchError } from '../../daemon/core/errors.js';
import { aptDriver } from '../../daemon/drivers/apt/index.js';
import { guest, kind } from './apt-fake-guest.js';
import { fixture } from './fixtures.js';

describe('aptDriver.upgrade (scripted guest)', () => {
  it('records holds before applying them, releases only its own, restores man-db', async () => {
    const g = guest({}, 'demo-lib\n');
    const res = await aptDriver.upgrade(g.ctx, { exclude: ['demo-tool', 'demo-lib'], recordHolds: g.recordHolds });
    // versions and the admin's holds in one dpkg-query; no simulation (not security-only); the
    // lock probe only because holds are added (apt-mark does not wait for the lock itself)
    assert.deepEqual(g.events, [
      'dpkg-query',
      'probe',
      'mandb-parked?',
      'conffiles',
      'record [demo-tool]',
      'hold',
      'mandb?',
      'mandb-park',
      'upgrade',
      'mandb-parked?',
      'mandb-restore',
      'unhold',
      'record []',
      'dpkg-query',
      'reboot?',
      'reboot-pkgs',
      'conffiles',
    ]);
    const hold = g.t.calls.find((c) => c.includes('hold'));
    assert.deepEqual(hold?.slice(-2), ['--', 'demo-tool']);
    assert.deepEqual(res.adminHolds, ['demo-lib']);
    assert.deepEqual(
      res.changed.map((c) => c.package),
      ['demo-app', 'demo-lib', 'demo-sec'],
    );
  });

  it("a failed upgrade still releases holds and man-db, then throws apt's last E: line", async () => {
    const g = guest({ upgrade: { exitCode: 100, stderr: fixture('apt/upgrade-dpkg-error.stderr.txt') } });
    await assert.rejects(aptDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      code: 'patch-failed',
      message: 'unable to upgrade packages - Sub-process /usr/bin/dpkg returned an error code (1)',
    });
    assert.deepEqual(g.events.slice(-6), [
      'mandb-park',
      'upgrade',
      'mandb-parked?',
      'mandb-restore',
      'unhold',
      'record []',
    ]);
  });

  it('keeps the hold record when unhold fails, and the first error wins', async () => {
    const g = guest({
      upgrade: { exitCode: 100, stderr: 'E: first' },
      unhold: { exitCode: 100, stderr: 'E: second' },
    });
    await assert.rejects(aptDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      message: 'unable to upgrade packages - first',
    });
    assert.ok(!g.events.includes('record []'));
  });

  it('a transport timeout during the upgrade still releases holds', async () => {
    const g = guest({
      upgrade: () => {
        throw new PvepatchError('timeout', 'no exit after 900s');
      },
    });
    await assert.rejects(aptDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      code: 'timeout',
    });
    assert.deepEqual(g.events.slice(-6), [
      'mandb-park',
      'upgrade',
      'mandb-parked?',
      'mandb-restore',
      'unhold',
      'record []',
    ]);
  });

  it('apt-mark does not wait for the lock: a locked unhold waits (shared loop, no probe) and retries', async () => {
    let unholds = 0;
    const g = guest({
      unhold: () => (unholds++ === 0 ? { exitCode: 100, stderr: fixture('apt/lock-apt-mark.stderr.txt') } : {}),
    });
    const started = Date.now();
    await aptDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds });
    assert.deepEqual(g.events.slice(g.events.indexOf('upgrade') + 3, g.events.indexOf('record []') + 1), [
      'unhold',
      'unhold',
      'record []',
    ]);
    assert.ok(Date.now() - started >= 900, 'waited a poll interval before the retry');
  });

  it('a held lock fails with the holder before anything changes', async () => {
    const stderr = 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 2 (perl)\n';
    const g = guest({ probe: { exitCode: 100, stderr } });
    await assert.rejects(aptDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      code: 'locked',
      message:
        'unable to upgrade packages - dpkg lock /var/lib/dpkg/lock-frontend is held by process 2 (perl) after waiting 3s',
    });
    // the probe (apt-get check) is asked again while the wait lasts; nothing else runs, nothing changes
    assert.deepEqual(g.events.slice(0, 2), ['dpkg-query', 'probe']);
    assert.ok(g.events.length >= 3 && g.events.slice(1).every((e) => e === 'probe'), g.events.join(' '));
    // each probe waits in apt itself for what is left of the lock timeout
    const waits = g.t.calls.filter((c) => kind(c) === 'probe').map((c) => c.find((a) => a.startsWith('DPkg::Lock')));
    assert.deepEqual(waits.slice(0, 2), ['DPkg::Lock::Timeout=3', 'DPkg::Lock::Timeout=2']);
  });

  it('a lock taken between probe and upgrade is still reported as locked', async () => {
    const stderr = 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 7 (apt-get)\n';
    const g = guest({ upgrade: { exitCode: 100, stderr } });
    await assert.rejects(aptDriver.upgrade(g.ctx, { exclude: [] }), {
      code: 'locked',
      message: /process 7 \(apt-get\) after waiting 3s$/,
    });
  });

  it('refuses a malformed exclude before running anything', async () => {
    const g = guest();
    await assert.rejects(aptDriver.upgrade(g.ctx, { exclude: ['nginx;rm -rf /'] }), { code: 'input-invalid' });
    assert.deepEqual(g.events, []);
  });

  it('dry run only reads', async () => {
    const g = guest();
    const res = await aptDriver.upgrade(g.ctx, { exclude: ['demo-tool'], dryRun: true, recordHolds: g.recordHolds });
    assert.deepEqual(g.events, ['dpkg-query', 'simulate', 'reboot?', 'reboot-pkgs']);
    assert.deepEqual(res.changed, [
      { package: 'demo-lib', before: '1.0', after: '1.1' },
      { package: 'demo-app', before: '1.0', after: '1.1' },
      { package: 'demo-sec', before: '1.0', after: '1.1' },
    ]);
  });

  it('security-only holds every installed non-security update', async () => {
    const g = guest();
    await aptDriver.upgrade(g.ctx, { exclude: [], securityOnly: true, recordHolds: g.recordHolds });
    assert.ok(g.events.includes('record [demo-lib,demo-app,demo-tool]'));
  });
});

describe('aptDriver read operations (scripted guest)', () => {
  it('listUpdates leaves out admin holds', async () => {
    const g = guest({}, 'demo-tool\n');
    const list = await aptDriver.listUpdates(g.ctx);
    assert.deepEqual(
      list.map((u) => u.package),
      ['demo-lib', 'demo-app', 'demo-sec'],
    );
    assert.equal(list.find((u) => u.package === 'demo-sec')?.security, true);
  });

  it('precheck: audit output is a problem unless fixBroken; a held lock always is', async () => {
    const broken = guest({ '--audit': { stdout: fixture('apt/audit-broken.txt') } });
    assert.deepEqual(await aptDriver.precheck(broken.ctx), {
      ok: false,
      problems: ['dpkg reports a broken package state - demo-broken'],
    });
    assert.deepEqual(await aptDriver.precheck(broken.ctx, { fixBroken: true }), { ok: true, problems: [] });
    const locked = guest({ probe: { exitCode: 100, stderr: fixture('apt/lock-chroot.stderr.txt') } });
    const res = await aptDriver.precheck(locked.ctx, { fixBroken: true });
    assert.deepEqual(res.problems, [
      'unable to lock the package database - dpkg lock /var/lib/dpkg/lock-frontend is held by process 30848 after waiting 3s',
    ]);
  });

  it('refresh maps a changed Release to patch-failed and a lists lock to locked', async () => {
    const changed = guest({ refresh: { exitCode: 100, stderr: fixture('apt/update-origin-changed.stderr.txt') } });
    await assert.rejects(aptDriver.refresh(changed.ctx), {
      code: 'patch-failed',
      message: /^unable to refresh package lists - Repository/,
    });
    assert.deepEqual(changed.t.lines(), [
      'env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=3 update --allow-releaseinfo-change',
    ]);
    const lists = guest({ refresh: { exitCode: 100, stderr: fixture('apt/lock-lists.stderr.txt') } });
    await assert.rejects(aptDriver.refresh(lists.ctx), {
      code: 'locked',
      message:
        'unable to refresh package lists - apt lock /var/lib/apt/lists/lock is held by process 30848 after waiting 3s',
    });
    // apt waits itself: every attempt gets what is left of the lock timeout
    const waits = lists.t.calls.map((c) => c.find((a) => a.startsWith('DPkg::Lock')));
    assert.deepEqual(waits.slice(0, 2), ['DPkg::Lock::Timeout=3', 'DPkg::Lock::Timeout=2']);
    assert.ok(lists.events.length >= 2 && lists.events.every((e) => e === 'refresh'), lists.events.join(' '));
  });

  it('rebootRequired reads /var/run/reboot-required and its .pkgs list', async () => {
    const g = guest({ 'reboot?': { exitCode: 0 }, 'reboot-pkgs': { stdout: 'demo-app\ndemo-app\nlinux-base\n' } });
    assert.deepEqual(await aptDriver.rebootRequired(g.ctx), { required: true, packages: ['demo-app', 'linux-base'] });
    assert.deepEqual(g.t.calls, [
      ['test', '-e', '/var/run/reboot-required'],
      ['cat', '/var/run/reboot-required.pkgs'],
    ]);
  });

  it('releaseHolds unholds exactly the recorded names and restores man-db', async () => {
    const g = guest({ 'mandb-parked?': { exitCode: 0 } });
    await aptDriver.releaseHolds(g.ctx, ['demo-tool']);
    assert.deepEqual(g.events, ['unhold', 'mandb-parked?', 'mandb-restore']);
    await assert.rejects(aptDriver.releaseHolds(g.ctx, ['$(reboot)']), { code: 'input-invalid' });
  });
});
