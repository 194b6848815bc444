import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PvepatchError } from '../../daemon/core/errors.js';
import { zypperDriver } from '../../daemon/drivers/zypper/index.js';
import { driverContext } from './context.js';
import { fixture } from './fixtures.js';
import { guest, kind } from './zypper-fake-guest.js';

const LOCKED = fixture('zypper/locked-update.txt.stderr').replace(/pid \d+/, 'pid 4242');
const AFTER_UPGRADE = ['rpm', 'needs-rebooting', 'reboot?', 'reboot-pkgs', 'conffiles', 'ps'];

describe('zypperDriver.upgrade (scripted guest)', () => {
  it('records its locks before adding them, removes only its own, leaves the admin lock', async () => {
    const g = guest({}, [{ name: 'demo-lib' }]);
    const res = await zypperDriver.upgrade(g.ctx, { exclude: ['demo-tool', 'demo-lib'], recordHolds: g.recordHolds });
    assert.deepEqual(g.events, [
      'locks',
      'rpm',
      'conffiles',
      'record [demo-tool] with locks [demo-lib]',
      'addlock',
      'update',
      'removelock',
      'record [] with locks [demo-lib]',
      ...AFTER_UPGRADE,
    ]);
    const lockCalls = g.t.calls.filter((c) => c.includes('addlock') || c.includes('removelock'));
    assert.deepEqual(
      lockCalls.map((c) => c.slice(-3)),
      [
        ['addlock', '--', 'demo-tool'],
        ['removelock', '--', 'demo-tool'],
      ],
    );
    assert.deepEqual(g.locks, [{ name: 'demo-lib' }]);
    assert.deepEqual(res.adminHolds, ['demo-lib']);
    assert.deepEqual(
      res.changed.map((c) => `${c.package} ${c.before} -> ${c.after}`),
      [
        'demo-app 1.0-1 -> 1.1-1',
        'demo-conf 1.0-1 -> 1.1-1',
        'demo-sec 1.0-1 -> 1.1-1',
        'kernel-default 6.1.0-1 -> 6.2.0-1',
      ],
    );
    assert.equal(res.rebootRequired, true, 'a kernel changed');
    assert.deepEqual(res.rebootPackages, ['kernel-default']);
  });

  it('a repo-bound admin lock on the same name stays: pvepatch adds and removes its own plain lock', async () => {
    const g = guest({}, [{ name: 'demo-tool', repo: 'demo' }]);
    const res = await zypperDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds });
    assert.ok(g.events.includes('record [demo-tool] with locks [demo-tool]'));
    assert.deepEqual(g.locks, [{ name: 'demo-tool', repo: 'demo' }]);
    assert.deepEqual(res.adminHolds, ['demo-tool (repo demo)']);
  });

  it("a failed update still removes the locks, then throws rpm's error", async () => {
    const g = guest({ update: { exitCode: 8, stderr: fixture('zypper/update-pre-fail.txt.stderr') } });
    await assert.rejects(zypperDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      code: 'patch-failed',
      message:
        /^unable to upgrade packages - Installation of demo-fail-1\.1-1\.noarch failed: error: lua script failed: .* \(zypper exit 8\)$/,
    });
    assert.deepEqual(g.events.slice(-4), ['addlock', 'update', 'removelock', 'record [] with locks []']);
  });

  it('keeps the lock record when removelock fails, and the first error wins', async () => {
    const g = guest({
      update: { exitCode: 8, stderr: 'Installation of x-1-1.noarch failed:\nerror: first\n' },
      removelock: { exitCode: 4, stderr: 'second\n' },
    });
    await assert.rejects(zypperDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      message: 'unable to upgrade packages - Installation of x-1-1.noarch failed: error: first (zypper exit 8)',
    });
    assert.ok(!g.events.some((e) => e.startsWith('record []')));
  });

  it('a transport timeout during the update still removes the locks', async () => {
    const g = guest({
      update: () => {
        throw new PvepatchError('timeout', 'no exit after 900s');
      },
    });
    await assert.rejects(zypperDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      code: 'timeout',
    });
    assert.deepEqual(g.events.slice(-3), ['update', 'removelock', 'record [] with locks []']);
    assert.deepEqual(g.locks, []);
  });

  it('a held zypp lock: zypper waits ZYPP_LOCK_TIMEOUT, then locked, nothing changed', async () => {
    const g = guest({ locks: { exitCode: 7, stderr: LOCKED } });
    const started = Date.now();
    await assert.rejects(zypperDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      code: 'locked',
      message: 'unable to upgrade packages - zypp lock /run/zypp.pid is held by process 4242 (sleep) after waiting 1s',
    });
    assert.ok(Date.now() - started >= 300, 'waited for the lock');
    // the 300 ms wait is shorter than one poll interval: zypper is asked with the whole wait, and not
    // again (a second ask only if the timer woke a millisecond early); nothing else runs
    assert.ok(g.events.length <= 2 && g.events.every((e) => e === 'locks'), g.events.join(' '));
    assert.ok(g.t.calls[0]?.includes('ZYPP_LOCK_TIMEOUT=1'));
  });

  it('a zypp lock that outlives an early exit 7: asked again with the seconds left until the wait is used up', async () => {
    const g = guest({ locks: { exitCode: 7, stderr: LOCKED } });
    const ctx = driverContext(g.t, { lockTimeoutMs: 1500 });
    await assert.rejects(zypperDriver.upgrade(ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      code: 'locked',
      message: 'unable to upgrade packages - zypp lock /run/zypp.pid is held by process 4242 (sleep) after waiting 2s',
    });
    assert.ok(g.events.length >= 2 && g.events.every((e) => e === 'locks'), g.events.join(' '));
    assert.deepEqual(
      g.t.calls.slice(0, 2).map((c) => c.find((a) => a.startsWith('ZYPP_LOCK_TIMEOUT='))),
      ['ZYPP_LOCK_TIMEOUT=2', 'ZYPP_LOCK_TIMEOUT=1'],
    );
  });

  it('a lock taken between the probe and the update is still locked, and the locks come off', async () => {
    const g = guest({ update: { exitCode: 7, stderr: LOCKED } });
    await assert.rejects(zypperDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      code: 'locked',
      message: /process 4242 \(sleep\) after waiting 1s$/,
    });
    assert.deepEqual(g.events.slice(-2), ['removelock', 'record [] with locks []']);
  });

  it('refuses a malformed or numeric exclude before running anything', async () => {
    const g = guest();
    await assert.rejects(zypperDriver.upgrade(g.ctx, { exclude: ['nginx;rm -rf /'] }), { code: 'input-invalid' });
    await assert.rejects(zypperDriver.upgrade(g.ctx, { exclude: ['2'] }), { code: 'input-invalid' });
    assert.deepEqual(g.events, []);
  });

  it('dry run only reads: zypper update --dry-run minus the exclusions', async () => {
    const g = guest();
    const res = await zypperDriver.upgrade(g.ctx, { exclude: ['demo-tool'], dryRun: true, recordHolds: g.recordHolds });
    assert.deepEqual(g.events, ['locks', 'rpm', 'update-dry', 'needs-rebooting', 'reboot?', 'reboot-pkgs']);
    assert.deepEqual(
      res.changed.map((c) => c.package),
      ['demo-app', 'demo-conf', 'demo-sec', 'kernel-default'],
    );
    assert.equal(res.rebootRequired, true, 'it would update the kernel');
  });

  it('exit 103 runs zypper again; exit 102 means reboot; the services and conffiles are read back', async () => {
    let passes = 0;
    const g = guest({
      update: () => ({ exitCode: passes++ === 0 ? 103 : 102 }),
      rpm: { stdout: 'demo-app\t1.0-1\t1\n' },
      conffiles: () => ({ stdout: passes > 0 ? '/etc/demo-conf.conf.rpmnew\t5.0\n' : '' }),
      ps: { stdout: 'demo-daemon\n' },
    });
    const res = await zypperDriver.upgrade(g.ctx, { exclude: [] });
    assert.deepEqual(g.events.filter((e) => e === 'update').length, 2);
    assert.equal(res.rebootRequired, true);
    assert.deepEqual(res.rebootPackages, []);
    assert.deepEqual(res.conffilesPending, ['/etc/demo-conf.conf.rpmnew']);
    assert.deepEqual(res.servicesToRestart, ['demo-daemon']);
  });

  it('fixBroken repairs with zypper verify inside the run locks', async () => {
    const g = guest();
    await zypperDriver.upgrade(g.ctx, { exclude: ['demo-tool'], fixBroken: true });
    assert.deepEqual(g.events.slice(2, 7), ['conffiles', 'addlock', 'verify', 'update', 'removelock']);
  });
});

describe('zypperDriver.upgrade securityOnly (scripted guest)', () => {
  it('zypper patch --category security --with-interactive; no locks when nothing is excluded', async () => {
    const g = guest();
    await zypperDriver.upgrade(g.ctx, { exclude: [], securityOnly: true, recordHolds: g.recordHolds });
    assert.deepEqual(g.events.slice(0, 6), ['locks', 'rpm', 'list-patches', 'info', 'conffiles', 'patch']);
    const patch = g.t.calls.find((c) => kind(c) === 'patch');
    assert.deepEqual(patch?.slice(-5), [
      'patch',
      '--category',
      'security',
      '--with-interactive',
      '--auto-agree-with-licenses',
    ]);
    assert.ok(!g.events.some((e) => e.startsWith('record')));
  });

  it('an excluded package covered by a security patch: the patch is locked too, and both come off', async () => {
    const g = guest();
    const lines: string[] = [];
    await zypperDriver.upgrade(driverContext(g.t, { lockTimeoutMs: 300, log: (l) => lines.push(l) }), {
      exclude: ['demo-sec'],
      securityOnly: true,
      recordHolds: g.recordHolds,
    });
    assert.ok(g.events.includes('record [demo-sec,patch:DEMO-SA-2026:0001] with locks []'));
    assert.ok(lines.includes('skipping security patch DEMO-SA-2026:0001 - it updates demo-sec'));
    assert.deepEqual(g.locks, []);
  });

  it('an admin glob lock covering a patched package: only the patch is locked by pvepatch', async () => {
    const g = guest({}, [{ name: 'demo-s*' }]);
    await zypperDriver.upgrade(g.ctx, { exclude: [], securityOnly: true, recordHolds: g.recordHolds });
    assert.ok(g.events.includes('record [patch:DEMO-SA-2026:0001] with locks [demo-s*]'));
    assert.deepEqual(g.locks, [{ name: 'demo-s*' }]);
  });

  it('security-only dry run: pending updates the unskipped patches cover', async () => {
    const g = guest();
    const res = await zypperDriver.upgrade(g.ctx, { exclude: [], securityOnly: true, dryRun: true });
    assert.deepEqual(res.changed, [{ package: 'demo-sec', before: '1.0-1', after: '1.1-1' }]);
    assert.ok(!g.events.includes('patch') && !g.events.includes('addlock'));
  });
});
