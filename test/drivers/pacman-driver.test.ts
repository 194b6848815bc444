import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PvepatchError } from '../../daemon/core/errors.js';
import { pacmanDriver } from '../../daemon/drivers/pacman/index.js';
import { fixture } from './fixtures.js';
import { guest } from './pacman-fake-guest.js';

const LOCKED = { exitCode: 0 };
const SU_LOCKED = { exitCode: 1, stderr: fixture('pacman/lock-su-guest.stderr.txt') };
const STALE =
  'pacman lock /var/lib/pacman/db.lck is held by another process - no pacman process is running - ' +
  'a stale lock from an interrupted pacman? pvepatch never removes it after waiting 1s';

describe('pacmanDriver.listUpdates (scripted guest)', () => {
  it('exit 1 of -Qu with no output is "nothing pending", and -Su --print is not even asked', async () => {
    const g = guest({ pending: { exitCode: 1 } });
    assert.deepEqual(await pacmanDriver.listUpdates(g.ctx), []);
    assert.deepEqual(g.events, ['pending']);
  });

  it('lists -Qu with repositories from the plan; IgnorePkg entries are left out', async () => {
    const g = guest({
      pending: { stdout: fixture('pacman/qu-ignored.txt') },
      plan: { stdout: fixture('pacman/sup-ignored.txt') },
    });
    const list = await pacmanDriver.listUpdates(g.ctx, { exclude: ['demo-lib'] });
    assert.deepEqual(
      list.map((u) => u.package),
      ['demo-app', 'demo-conf', 'demo-lib', 'demo-sec', 'linux'],
    );
    assert.ok(list.every((u) => u.repository === 'demo' && !u.security));
    assert.deepEqual(g.events, ['pending', 'plan']);
  });

  it('a real -Qu failure is patch-failed, and so is a plan pacman cannot resolve', async () => {
    const broken = guest({ pending: { exitCode: 1, stderr: 'error: failed to initialize alpm library\n' } });
    await assert.rejects(pacmanDriver.listUpdates(broken.ctx), {
      code: 'patch-failed',
      message: 'unable to list pending updates - failed to initialize alpm library',
    });
    const unsatisfied = guest({
      plan: {
        exitCode: 1,
        stdout: fixture('pacman/sup-unsatisfied.txt'),
        stderr: fixture('pacman/sup-unsatisfied.stderr.txt'),
      },
    });
    await assert.rejects(pacmanDriver.listUpdates(unsatisfied.ctx), {
      code: 'patch-failed',
      message: /^unable to plan the upgrade - .*unable to satisfy dependency 'demo-lib>=1.1' required by demo-app$/,
    });
  });
});

describe('pacmanDriver.upgrade (scripted guest)', () => {
  it('one -Su with --ignore for the exclusion; no holds recorded; result read back from pacman -Q', async () => {
    const g = guest({ conf: { stdout: 'IgnorePkg = demo-sec\n' } });
    const res = await pacmanDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds });
    assert.deepEqual(g.events, [
      'conf',
      'versions',
      'conffiles',
      'upgrade',
      'versions',
      'reboot?',
      'reboot-pkgs',
      'uname',
      'conffiles',
    ]);
    const upgrade = g.t.calls.find((c) => c.includes('-Su'));
    assert.deepEqual(upgrade, ['env', 'LC_ALL=C', 'pacman', '-Su', '--noconfirm', '--ignore', 'demo-tool']);
    assert.deepEqual(g.recorded, []);
    assert.deepEqual(res.adminHolds, ['demo-sec']);
    assert.deepEqual(
      res.changed.map((c) => c.package),
      ['demo-app', 'demo-conf', 'demo-lib', 'demo-sec', 'linux'],
    );
    assert.equal(res.rebootRequired, true);
    assert.deepEqual(res.rebootPackages, ['linux']);
    assert.deepEqual(res.conffilesPending, ['/tmp/pm-scratch/s.nMjO/root/etc/demo-conf.conf.pacnew']);
    assert.deepEqual(res.servicesToRestart, []);
  });

  it('dry run only reads: -Su --print with the same --ignore, no lock wait, no upgrade', async () => {
    const g = guest({ plan: { stdout: fixture('pacman/sup-ignored.txt') } });
    const res = await pacmanDriver.upgrade(g.ctx, { exclude: ['demo-tool'], dryRun: true });
    assert.deepEqual(g.events, ['conf', 'versions', 'plan', 'reboot?', 'reboot-pkgs', 'uname']);
    assert.deepEqual(g.t.calls[2]?.slice(-2), ['--ignore', 'demo-tool']);
    assert.deepEqual(res.changed[0], { package: 'demo-lib', before: '1.0-1', after: '1.1-1' });
    assert.equal(res.changed.length, 5);
    assert.equal(res.rebootRequired, true, 'linux is in the plan');
  });

  it('pacman refuses while db.lck exists: waits for it to go away, then upgrades', async () => {
    let polls = 0;
    let present = true;
    const g = guest({
      'lock?': () => {
        present = polls++ < 1;
        return present ? LOCKED : { exitCode: 1 };
      },
      upgrade: () => (present ? SU_LOCKED : { stdout: fixture('pacman/su-nothing.txt') }),
    });
    await pacmanDriver.upgrade(g.ctx, { exclude: [] });
    assert.deepEqual(
      g.events.filter((e) => e === 'lock?' || e === 'upgrade'),
      ['upgrade', 'lock?', 'lock?', 'upgrade'],
    );
  });

  it("db.lck still there after the wait: 'locked' naming the running pacman, nothing changed", async () => {
    const g = guest({ 'lock?': LOCKED, upgrade: SU_LOCKED, holder: { stdout: '412 pacman -Syu\n' } });
    const started = Date.now();
    await assert.rejects(pacmanDriver.upgrade(g.ctx, { exclude: ['demo-tool'] }), {
      code: 'locked',
      message:
        'unable to upgrade packages - pacman lock /var/lib/pacman/db.lck is held by process 412 (pacman -Syu) after waiting 1s',
    });
    assert.ok(Date.now() - started >= 250, 'waited for the lock timeout');
    // pacman refused (changed nothing), db.lck was polled until the timeout, then pgrep named the holder
    assert.deepEqual(g.events.slice(0, 5), ['conf', 'versions', 'conffiles', 'upgrade', 'lock?']);
    assert.deepEqual(
      g.events.filter((e) => e === 'upgrade'),
      ['upgrade'],
    );
    assert.ok(g.events.slice(4, -1).every((e) => e === 'lock?'));
    assert.equal(g.events.at(-1), 'holder');
    assert.ok(
      g.t.calls.every((c) => !c.includes('rm')),
      'never removes db.lck',
    );
  });

  it('a stale db.lck (no pacman running) is reported as such, never removed', async () => {
    const g = guest({ 'lock?': LOCKED, upgrade: SU_LOCKED, holder: { exitCode: 1 } });
    await assert.rejects(pacmanDriver.upgrade(g.ctx, { exclude: [] }), {
      code: 'locked',
      message: `unable to upgrade packages - ${STALE}`,
    });
    assert.ok(
      g.t.calls.every((c) => !c.includes('rm')),
      'never removes db.lck',
    );
  });

  it('a lock that is gone by the first poll: the refused upgrade runs again at once', async () => {
    let tries = 0;
    const g = guest({ upgrade: () => (tries++ === 0 ? SU_LOCKED : { stdout: fixture('pacman/su-nothing.txt') }) });
    await pacmanDriver.upgrade(g.ctx, { exclude: [] });
    assert.deepEqual(
      g.events.filter((e) => e === 'lock?' || e === 'upgrade'),
      ['upgrade', 'lock?', 'upgrade'],
    );
  });

  it("a failing transaction is patch-failed with pacman's reason", async () => {
    const g = guest({
      upgrade: {
        exitCode: 1,
        stdout: fixture('pacman/su-conflict.txt'),
        stderr: fixture('pacman/su-conflict.stderr.txt'),
      },
    });
    await assert.rejects(pacmanDriver.upgrade(g.ctx, { exclude: [] }), {
      code: 'patch-failed',
      message:
        /^unable to upgrade packages - failed to commit transaction \(conflicting files\): demo-lib: .*owned by demo-tool\)$/,
    });
  });

  it('a transport timeout propagates; there is nothing to clean up', async () => {
    const g = guest({
      upgrade: () => {
        throw new PvepatchError('timeout', 'no exit after 900s');
      },
    });
    await assert.rejects(pacmanDriver.upgrade(g.ctx, { exclude: ['demo-tool'], recordHolds: g.recordHolds }), {
      code: 'timeout',
    });
    assert.equal(g.events.at(-1), 'upgrade');
    assert.deepEqual(g.recorded, []);
  });

  it('refuses security-only (no security metadata) and malformed names before running anything', async () => {
    const g = guest();
    await assert.rejects(pacmanDriver.upgrade(g.ctx, { exclude: [], securityOnly: true }), {
      code: 'driver-unsupported',
      message: /no security metadata/,
    });
    await assert.rejects(pacmanDriver.upgrade(g.ctx, { exclude: ['-Syu'] }), { code: 'input-invalid' });
    assert.deepEqual(g.events, []);
  });
});

describe('pacmanDriver refresh, precheck, reboot, holds (scripted guest)', () => {
  it('refresh is -Syy after the lock wait; a held lock ends as locked, a failure as patch-failed', async () => {
    const ok = guest();
    await pacmanDriver.refresh(ok.ctx);
    assert.deepEqual(ok.t.calls, [['env', 'LC_ALL=C', 'pacman', '-Syy', '--noconfirm']]);
    const locked = guest({
      'lock?': LOCKED,
      refresh: { exitCode: 1, stdout: fixture('pacman/lock-syy.txt'), stderr: fixture('pacman/lock-syy.stderr.txt') },
      holder: { exitCode: 1 },
    });
    await assert.rejects(pacmanDriver.refresh(locked.ctx), {
      code: 'locked',
      message: `unable to refresh package databases - ${STALE}`,
    });
    const failed = guest({ refresh: { exitCode: 1, stderr: 'error: failed to synchronize all databases\n' } });
    await assert.rejects(pacmanDriver.refresh(failed.ctx), {
      code: 'patch-failed',
      message: 'unable to refresh package databases - failed to synchronize all databases',
    });
  });

  it('precheck reports a lock that outlives the wait', async () => {
    assert.deepEqual(await pacmanDriver.precheck(guest().ctx), { ok: true, problems: [] });
    const res = await pacmanDriver.precheck(guest({ 'lock?': LOCKED, holder: { exitCode: 1 } }).ctx);
    assert.equal(res.ok, false);
    assert.deepEqual(res.problems, [`unable to lock the package database - ${STALE}`]);
  });

  it('rebootRequired: the flag file, and an Arch VM running a replaced kernel', async () => {
    const flagged = guest({ 'reboot?': { exitCode: 0 }, 'reboot-pkgs': { stdout: 'demo-app\n' } });
    assert.deepEqual(await pacmanDriver.rebootRequired(flagged.ctx), { required: true, packages: ['demo-app'] });
    const vm = guest({ uname: { stdout: '6.1.0-arch1-1\n' }, versions: { stdout: fixture('pacman/q-after.txt') } });
    assert.deepEqual(await pacmanDriver.rebootRequired(vm.ctx), { required: true, packages: ['linux'] });
    const ct = guest({ versions: { stdout: fixture('pacman/q-after.txt') } });
    assert.deepEqual(await pacmanDriver.rebootRequired(ct.ctx), { required: false, packages: [] });
  });

  it('releaseHolds has nothing to release and runs nothing, but still validates', async () => {
    const g = guest();
    await pacmanDriver.releaseHolds(g.ctx, ['demo-tool']);
    assert.deepEqual(g.events, []);
    await assert.rejects(pacmanDriver.releaseHolds(g.ctx, ['$(reboot)']), { code: 'input-invalid' });
  });
});
