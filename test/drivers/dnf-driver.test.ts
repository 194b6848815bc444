import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PvepatchError } from '../../daemon/core/errors.js';
import { dnfDriver } from '../../daemon/drivers/dnf/index.js';
import { guest } from './dnf-fake-guest.js';
import { fixture } from './fixtures.js';

const RPMDB_PID = 'pidfile /var/lib/dnf/rpmdb_lock.pid';
/** The lock probe: one `head -n 1` per dnf pid file (none held), then rpm --verifydb. */
const PROBE = [RPMDB_PID, 'pidfile /var/cache/dnf/metadata_lock.pid', 'pidfile /var/cache/dnf/download_lock.pid'];
const HELD = { stdout: '4242\n' };
const DNF_RPMDB_LOCKED = { exitCode: 200, stderr: fixture('dnf/lock-rpmdb.stderr.txt') };

describe('dnfDriver.upgrade (scripted guest)', () => {
  it('reads holds and versions, probes locks, upgrades with --exclude, reads the result back', async () => {
    const g = guest();
    const res = await dnfDriver.upgrade(g.ctx, { exclude: ['demo-lib'], recordHolds: g.recordHolds });
    assert.deepEqual(g.events, [
      'dnf.conf',
      'versionlock',
      'rpm-qa',
      ...PROBE,
      'verifydb',
      'conffiles',
      'upgrade',
      'rpm-qa',
      'reboot?',
      'reboot-pkgs',
      'needs-restarting -r',
      'conffiles',
      'needs-restarting -s',
    ]);
    const upgrade = g.t.calls.find((c) => c.at(-1) === 'upgrade');
    assert.deepEqual(upgrade, [
      'env',
      'LC_ALL=C',
      'dnf',
      '--setopt=exit_on_lock=True',
      '-y',
      '--exclude=demo-lib',
      'upgrade',
    ]);
    assert.deepEqual(g.holds, [], 'no pvepatch holds: nothing to record');
    assert.equal(res.changed.length, 6);
    assert.equal(res.rebootRequired, true, 'kernel-core changed');
    assert.deepEqual(res.rebootPackages, ['kernel-core']);
    assert.deepEqual(res.adminHolds, ['demo-tool']);
    assert.deepEqual(res.servicesToRestart, []);
    assert.match(res.output, /Complete!/);
  });

  it('security-only adds --security', async () => {
    const g = guest();
    await dnfDriver.upgrade(g.ctx, { exclude: [], securityOnly: true });
    const upgrade = g.t.calls.find((c) => c.at(-1) === 'upgrade');
    assert.deepEqual(upgrade?.slice(4), ['-y', '--security', 'upgrade']);
  });

  it('dry run only reads: the resolved table, no lock probe, no upgrade', async () => {
    const g = guest({ plan: { exitCode: 1, stdout: fixture('dnf/plan-exclude.txt'), stderr: 'Operation aborted.\n' } });
    const res = await dnfDriver.upgrade(g.ctx, { exclude: ['demo-lib', 'demo-app'], dryRun: true });
    assert.deepEqual(g.events, [
      'dnf.conf',
      'versionlock',
      'rpm-qa',
      'plan',
      'reboot?',
      'reboot-pkgs',
      'needs-restarting -r',
      'uname',
      'rpm-qa',
    ]);
    const plan = g.t.calls.find((c) => c.includes('--assumeno'));
    assert.deepEqual(plan?.slice(4), ['--assumeno', '--exclude=demo-lib', '--exclude=demo-app', 'upgrade']);
    assert.deepEqual(res.changed, [
      { package: 'demo-conf', before: '1.0-1', after: '1.1-1' },
      { package: 'demo-sec', before: '1.0-1', after: '1.1-1' },
      { package: 'demo-tool', before: '1.0-1', after: '1.1-1' },
      { package: 'kernel-core', before: '6.1.0-1', after: '6.2.0-1' },
    ]);
    assert.equal(res.rebootRequired, false);
  });

  it('a lock held past the timeout fails as locked, naming the holder, before anything changes', async () => {
    const g = guest({ [RPMDB_PID]: HELD, comm: { stdout: 'dnf\n' } });
    await assert.rejects(dnfDriver.upgrade(g.ctx, { exclude: [] }), {
      code: 'locked',
      message:
        'unable to upgrade packages - dnf lock /var/lib/dnf/rpmdb_lock.pid is held by process 4242 (dnf) after waiting 1s',
    });
    assert.ok(!g.events.includes('upgrade'));
    assert.ok(g.events.filter((e) => e === RPMDB_PID).length >= 2, 'polled more than once');
    assert.ok(g.t.calls.some((c) => c.join(' ') === 'cat /proc/4242/comm'));
  });

  it("rpm's transaction lock is found by rpm --verifydb", async () => {
    const g = guest({ verifydb: { exitCode: 255, stderr: fixture('dnf/verifydb-locked.stderr.txt') } });
    await assert.rejects(dnfDriver.upgrade(g.ctx, { exclude: [] }), {
      code: 'locked',
      message:
        /^unable to upgrade packages - rpm transaction lock \S+\/var\/lib\/rpm\/\.rpm\.lock is held by another process after waiting 1s$/,
    });
    assert.ok(!g.events.includes('upgrade'));
  });

  it('a stale pid file (process gone) is no lock; a lock released during the wait lets the upgrade run', async () => {
    const stale = guest({ [RPMDB_PID]: HELD, comm: { exitCode: 1 } });
    await dnfDriver.upgrade(stale.ctx, { exclude: [] });
    assert.deepEqual(stale.events.slice(3, 8), [RPMDB_PID, 'comm', ...PROBE.slice(1), 'verifydb']);
    assert.ok(stale.events.includes('upgrade'));
    const released = guest(
      {
        [RPMDB_PID]: (n) =>
          n < 2 ? HELD : { exitCode: 1, stderr: "head: cannot open '/var/lib/dnf/rpmdb_lock.pid'\n" },
        comm: { stdout: 'dnf\n' },
      },
      5000,
    );
    await dnfDriver.upgrade(released.ctx, { exclude: [] });
    assert.deepEqual(released.events.slice(3, 11), [RPMDB_PID, 'comm', RPMDB_PID, 'comm', ...PROBE, 'verifydb']);
    assert.ok(released.events.includes('upgrade'));
  });

  it('a lock taken between probe and upgrade: dnf exits 200, the driver waits and runs it again', async () => {
    const g = guest({ upgrade: (n) => (n === 0 ? DNF_RPMDB_LOCKED : { stdout: 'Complete!\n' }) }, 5000);
    await dnfDriver.upgrade(g.ctx, { exclude: [] });
    assert.deepEqual(g.events.slice(8, 14), ['upgrade', ...PROBE, 'verifydb', 'upgrade']);
  });

  it("a failed upgrade is patch-failed with dnf's cause; no hold exists to clean up", async () => {
    const g = guest({ upgrade: { exitCode: 1, stderr: fixture('dnf/upgrade-failed.stderr.txt') } });
    await assert.rejects(dnfDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      code: 'patch-failed',
      message: 'unable to upgrade packages - Transaction failed (Error in PREIN scriptlet in rpm package demo-broken)',
    });
    assert.equal(g.events.at(-1), 'upgrade');
    assert.deepEqual(g.holds, []);
  });

  it('a transport timeout during the upgrade propagates unchanged', async () => {
    const g = guest({
      upgrade: () => {
        throw new PvepatchError('timeout', 'no exit after 900s');
      },
    });
    await assert.rejects(dnfDriver.upgrade(g.ctx, { exclude: [] }), { code: 'timeout' });
  });

  it('refuses a malformed exclude before running anything', async () => {
    const g = guest();
    await assert.rejects(dnfDriver.upgrade(g.ctx, { exclude: ['demo;reboot'] }), { code: 'input-invalid' });
    await assert.rejects(dnfDriver.listUpdates(g.ctx, { exclude: ['-x'] }), { code: 'input-invalid' });
    assert.deepEqual(g.events, []);
  });
});
