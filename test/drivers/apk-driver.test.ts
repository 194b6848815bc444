import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PvepatchError } from '../../daemon/core/errors.js';
import { apkDriver } from '../../daemon/drivers/apk/index.js';
import { guest } from './apk-fake-guest.js';
import { fixture } from './fixtures.js';

const ORIGINAL = 'alpine-base\ndemo-app\ndemo-conf\ndemo-sec\ndemo-tool=1.0-r0\n';

describe('apkDriver.upgrade (scripted guest)', () => {
  it('records, backs up, pins, upgrades, restores the world byte for byte, clears the record', async () => {
    const g = guest();
    const res = await apkDriver.upgrade(g.ctx, { exclude: ['demo-lib', 'absent'], recordHolds: g.recordHolds });
    assert.deepEqual(g.events, [
      'backup?',
      'read-world',
      'versions',
      'conffiles',
      'record [demo-lib]',
      'backup',
      'write-pinned',
      'apply-pinned',
      'upgrade',
      'backup?',
      'restore',
      'record []',
      'versions',
      'reboot?',
      'reboot-pkgs',
      'uname',
      'conffiles',
    ]);
    assert.deepEqual(g.inputs, [`${ORIGINAL}demo-lib=1.0-r0\n`]);
    assert.equal(g.files.get('/etc/apk/world'), ORIGINAL);
    assert.deepEqual([...g.files.keys()], ['/etc/apk/world'], 'no backup or side file left behind');
    assert.deepEqual(res.adminHolds, ['demo-tool=1.0-r0']);
    assert.deepEqual(
      res.changed.map((c) => c.package),
      ['demo-app', 'demo-conf', 'demo-sec'],
    );
    assert.equal(res.rebootRequired, false);
  });

  it("an approved plan's versions are world pins; exclusions and the admin's own constraints win; the world is restored", async () => {
    const g = guest();
    const logs: string[] = [];
    g.ctx.log = (line) => logs.push(line);
    await apkDriver.upgrade(g.ctx, {
      exclude: ['demo-conf'],
      pins: { 'demo-app': '1.1-r0', 'demo-lib': '1.1-r0', 'demo-conf': '1.1-r0', 'demo-tool': '1.1-r0' },
      recordHolds: g.recordHolds,
    });
    assert.deepEqual(g.inputs, [
      'alpine-base\ndemo-app=1.1-r0\ndemo-conf=1.0-r0\ndemo-sec\ndemo-tool=1.0-r0\ndemo-lib=1.1-r0\n',
    ]);
    assert.ok(g.events.includes('record [demo-conf,demo-app,demo-lib,demo-tool]'), g.events.join(' | '));
    assert.ok(
      logs.some((l) => l.startsWith("demo-tool: the admin's own constraint in /etc/apk/world stays")),
      logs.join('\n'),
    );
    assert.equal(g.files.get('/etc/apk/world'), ORIGINAL, 'the original world is back');
    await assert.rejects(
      apkDriver.upgrade(guest().ctx, { exclude: [], pins: { 'demo-app': '1.1; rm -rf /' } }),
      /invalid package version/,
    );
  });

  it('without exclusions the world is never touched', async () => {
    const g = guest();
    await apkDriver.upgrade(g.ctx, { exclude: [], recordHolds: g.recordHolds });
    assert.ok(!g.events.some((e) => ['backup', 'write-pinned', 'apply-pinned', 'restore'].includes(e)));
    assert.ok(!g.events.some((e) => e.startsWith('record')));
  });

  it("a failed upgrade still restores the world, then throws apk's solver error", async () => {
    const g = guest({ upgrade: { exitCode: 1, stderr: fixture('apk/select-error.stderr.txt') } });
    await assert.rejects(apkDriver.upgrade(g.ctx, { exclude: ['demo-lib'], recordHolds: g.recordHolds }), {
      code: 'patch-failed',
      message:
        /^unable to upgrade packages - unable to select packages: demo-lib-1\.1-r0: breaks: world\[demo-lib=1\.0-r0\]/,
    });
    assert.deepEqual(g.events.slice(-4), ['upgrade', 'backup?', 'restore', 'record []']);
    assert.equal(g.files.get('/etc/apk/world'), ORIGINAL);
  });

  it('a transport timeout during the upgrade still restores the world', async () => {
    const g = guest({
      upgrade: () => {
        throw new PvepatchError('timeout', 'no exit after 900s');
      },
    });
    await assert.rejects(apkDriver.upgrade(g.ctx, { exclude: ['demo-lib'], recordHolds: g.recordHolds }), {
      code: 'timeout',
    });
    assert.equal(g.files.get('/etc/apk/world'), ORIGINAL);
    assert.equal(g.events.at(-1), 'record []');
  });

  it('keeps the hold record when the restore fails, and the first error wins', async () => {
    const g = guest({
      upgrade: { exitCode: 1, stderr: 'ERROR: first\n' },
      restore: { exitCode: 1, stderr: 'mv: read-only file system' },
    });
    await assert.rejects(apkDriver.upgrade(g.ctx, { exclude: ['demo-lib'], recordHolds: g.recordHolds }), {
      message: 'unable to upgrade packages - first',
    });
    assert.ok(!g.events.includes('record []'));
    assert.ok(g.files.has('/etc/apk/world.pvepatch'), 'the backup stays for crash recovery');
  });

  it('a world left pinned by a crashed run is restored before anything else', async () => {
    const g = guest({}, 'demo-lib=1.0-r0\n');
    g.files.set('/etc/apk/world.pvepatch', ORIGINAL);
    const res = await apkDriver.upgrade(g.ctx, { exclude: [] });
    assert.deepEqual(g.events.slice(0, 3), ['backup?', 'restore', 'read-world']);
    assert.equal(g.files.get('/etc/apk/world'), ORIGINAL);
    assert.deepEqual(res.adminHolds, ['demo-tool=1.0-r0']);
  });

  it("a held lock after apk's own --wait is 'locked', with the world restored", async () => {
    const g = guest({
      upgrade: { exitCode: 250, stdout: 'Waiting for repository lock\n', stderr: fixture('apk/lock-2.14.stderr.txt') },
      holder: { stdout: '77 apk add nginx\n' },
    });
    await assert.rejects(apkDriver.upgrade(g.ctx, { exclude: ['demo-lib'], recordHolds: g.recordHolds }), {
      code: 'locked',
      message:
        'unable to upgrade packages - apk lock /lib/apk/db/lock is held by process 77 (apk add nginx) after waiting 3s',
    });
    const upgrades = g.transport.calls.filter((c) => c.includes('upgrade'));
    assert.deepEqual(upgrades[0]?.slice(-3), ['--wait', '3', 'upgrade']);
    assert.deepEqual(upgrades[1]?.slice(-3), ['--wait', '2', 'upgrade'], 'a retry waits for what is left');
    // pgrep names the holder once the wait is over, then the world is restored
    const after = g.events.slice(g.events.lastIndexOf('upgrade') + 1);
    assert.deepEqual(after, ['holder', 'backup?', 'restore', 'record []']);
    assert.equal(g.files.get('/etc/apk/world'), ORIGINAL);
  });

  it('dry run only reads (the simulation minus exclusions), no pins, no lock', async () => {
    const g = guest();
    const res = await apkDriver.upgrade(g.ctx, { exclude: ['demo-lib'], dryRun: true, recordHolds: g.recordHolds });
    assert.deepEqual(g.events, ['read-world', 'versions', 'simulate', 'reboot?', 'reboot-pkgs', 'uname']);
    assert.deepEqual(res.changed, [
      { package: 'demo-app', before: '1.0-r0', after: '1.1-r0' },
      { package: 'demo-conf', before: '1.0-r0', after: '1.1-r0' },
    ]);
  });

  it('a kernel package changed in the run needs a reboot', async () => {
    const g = guest({
      versions: () => ({ stdout: g.events.includes('upgrade') ? 'linux-lts-6.6.60-r0\n' : 'linux-lts-6.6.58-r0\n' }),
    });
    const res = await apkDriver.upgrade(g.ctx, { exclude: [] });
    assert.equal(res.rebootRequired, true);
    assert.deepEqual(res.rebootPackages, ['linux-lts']);
  });

  it('refuses security-only and malformed names before running anything', async () => {
    const g = guest();
    await assert.rejects(apkDriver.upgrade(g.ctx, { exclude: [], securityOnly: true }), {
      code: 'driver-unsupported',
      message: /secdb is not consulted/,
    });
    await assert.rejects(apkDriver.upgrade(g.ctx, { exclude: ['--allow-untrusted'] }), { code: 'input-invalid' });
    assert.deepEqual(g.events, []);
  });
});

describe('apkDriver read operations (scripted guest)', () => {
  it('listUpdates: what the simulation would do, repositories from apk policy', async () => {
    const g = guest();
    const list = await apkDriver.listUpdates(g.ctx);
    assert.deepEqual(g.events, ['simulate', 'policy']);
    assert.deepEqual(g.transport.calls[1]?.slice(-4), ['policy', 'demo-app', 'demo-conf', 'demo-lib']);
    assert.deepEqual(list[0], {
      package: 'demo-app',
      current_version: '1.0-r0',
      new_version: '1.1-r0',
      repository: 'https://repo.example/alpine/v3.21/main',
      security: false,
    });
    assert.equal(list.length, 3);
  });

  it('listUpdates with nothing pending asks no policy', async () => {
    const g = guest({ simulate: { stdout: 'OK: 12 MiB in 30 packages\n' } });
    assert.deepEqual(await apkDriver.listUpdates(g.ctx), []);
    assert.deepEqual(g.events, ['simulate']);
  });

  it('refresh: --wait, lock refusal is locked, unavailable indexes fail even on exit 0', async () => {
    const ok = guest();
    await apkDriver.refresh(ok.ctx);
    assert.deepEqual(ok.transport.calls[0], ['env', 'LC_ALL=C', 'apk', '--no-progress', '--wait', '3', 'update']);
    const locked = guest({
      refresh: { exitCode: 250, stderr: fixture('apk/lock-3.0.stderr.txt') },
      holder: { exitCode: 1 },
    });
    await assert.rejects(apkDriver.refresh(locked.ctx), {
      code: 'locked',
      message:
        'unable to refresh package indexes - apk lock /lib/apk/db/lock is held by another process after waiting 3s',
    });
    assert.equal(locked.events.at(-1), 'holder');
    const unreachable = guest({ refresh: { stdout: fixture('apk/update-unreachable-alpine321.txt') } });
    await assert.rejects(apkDriver.refresh(unreachable.ctx), {
      code: 'patch-failed',
      message: /^unable to refresh package indexes - updating and opening .*: DNS lookup error$/,
    });
  });

  it('rebootRequired reads the flag, the package list and the kernel', async () => {
    const g = guest({ 'reboot?': { exitCode: 0 }, 'reboot-pkgs': { stdout: 'demo-app\n' } });
    assert.deepEqual(await apkDriver.rebootRequired(g.ctx), { required: true, packages: ['demo-app'] });
  });

  it('releaseHolds restores a pinned world from its backup, and is idempotent', async () => {
    const g = guest({}, 'demo-lib=1.0-r0\n');
    g.files.set('/etc/apk/world.pvepatch', ORIGINAL);
    await apkDriver.releaseHolds(g.ctx, ['demo-lib']);
    await apkDriver.releaseHolds(g.ctx, ['demo-lib']);
    assert.deepEqual(g.events, ['backup?', 'restore', 'backup?']);
    assert.equal(g.files.get('/etc/apk/world'), ORIGINAL);
    await assert.rejects(apkDriver.releaseHolds(g.ctx, ['$(reboot)']), { code: 'input-invalid' });
  });
});
