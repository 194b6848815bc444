import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { zypperDriver } from '../../daemon/drivers/zypper/index.js';
import { fixture } from './fixtures.js';
import { guest } from './zypper-fake-guest.js';

const LOCKED = fixture('zypper/locked-update.txt.stderr').replace(/pid \d+/, 'pid 4242');

describe('zypperDriver read operations (scripted guest)', () => {
  it('listUpdates: every pending package, security from the needed security patches', async () => {
    const g = guest();
    const list = await zypperDriver.listUpdates(g.ctx);
    assert.deepEqual(g.events, ['list-updates', 'list-patches', 'info']);
    assert.deepEqual(
      list.map((u) => [u.package, u.current_version, u.new_version, u.repository, u.security]),
      [
        ['demo-app', '1.0-1', '1.1-1', 'demo', false],
        ['demo-conf', '1.0-1', '1.1-1', 'demo', false],
        ['demo-lib', '1.0-1', '1.1-1', 'demo', false],
        ['demo-sec', '1.0-1', '1.1-1', 'demo', true],
        ['demo-tool', '1.0-1', '1.1-1', 'demo', false],
        ['kernel-default', '6.1.0-1', '6.2.0-1', 'demo', false],
      ],
    );
    const info = g.t.calls[2] ?? [];
    assert.deepEqual(info.slice(info.indexOf('--')), ['--', 'DEMO-SA-2026:0001']);
  });

  it('listUpdates: one info -t patch call for every needed security patch; more than 5000 is refused', async () => {
    const patchList = (ids: string[]) =>
      `<stream><update-status><update-list>${ids
        .map((id) => `<update kind="patch" name="${id}" edition="1" status="needed" category="security"/>`)
        .join('')}</update-list></update-status></stream>`;
    const info = (id: string, pkg: string) =>
      `<message type="info">Name        : ${id}\nConflicts   : ${pkg} &lt; 1.1-1\n</message>`;
    const g = guest({
      'list-patches': { stdout: patchList(['DEMO-SA-2026:0001', 'DEMO-SA-2026:0003']) },
      info: {
        stdout: `<stream>${info('DEMO-SA-2026:0001', 'demo-sec')}${info('DEMO-SA-2026:0003', 'demo-lib')}</stream>`,
      },
    });
    const list = await zypperDriver.listUpdates(g.ctx);
    assert.deepEqual(g.events, ['list-updates', 'list-patches', 'info']);
    const call = g.t.calls[2] ?? [];
    assert.deepEqual(call.slice(call.indexOf('info')), [
      'info',
      '-t',
      'patch',
      '--',
      'DEMO-SA-2026:0001',
      'DEMO-SA-2026:0003',
    ]);
    assert.deepEqual(
      list.filter((u) => u.security).map((u) => u.package),
      ['demo-lib', 'demo-sec'],
    );
    const many = guest({
      'list-patches': { stdout: patchList(Array.from({ length: 5001 }, (_, i) => `DEMO-SA-${i}`)) },
    });
    await assert.rejects(zypperDriver.listUpdates(many.ctx), {
      code: 'output-invalid',
      message: 'unable to read patch details - zypper lists 5001 needed security patches (more than 5000)',
    });
    assert.deepEqual(many.events, ['list-updates', 'list-patches']);
  });

  it('listUpdates: no patch details asked when no security patch is needed; admin locks hide packages', async () => {
    const g = guest({
      'list-updates': { stdout: fixture('zypper/list-updates-admin-lock.xml') },
      'list-patches': { stdout: fixture('zypper/list-patches-unwanted.xml') },
    });
    const list = await zypperDriver.listUpdates(g.ctx);
    assert.deepEqual(g.events, ['list-updates', 'list-patches']);
    assert.ok(!list.some((u) => u.package === 'demo-lib' || u.security));
    await assert.rejects(zypperDriver.listUpdates(g.ctx, { exclude: ['a b'] }), { code: 'input-invalid' });
  });

  it('listUpdates: a held lock is locked after the wait', async () => {
    const g = guest({
      'list-updates': { exitCode: 7, stdout: fixture('zypper/locked.xml').replace(/pid \d+/, 'pid 9') },
    });
    await assert.rejects(zypperDriver.listUpdates(g.ctx), {
      code: 'locked',
      message: 'unable to list updates - zypp lock /run/zypp.pid is held by process 9 (sleep) after waiting 1s',
    });
  });

  it('precheck: consistent; broken unless fixBroken; a held lock is always a problem', async () => {
    assert.deepEqual(await zypperDriver.precheck(guest().ctx), { ok: true, problems: [] });
    const broken = guest({ 'verify-dry': { stdout: fixture('zypper/verify-broken.xml') } });
    assert.deepEqual(await zypperDriver.precheck(broken.ctx), {
      ok: false,
      problems: ['zypper verify reports broken dependencies - it would change demo-lib'],
    });
    assert.deepEqual(await zypperDriver.precheck(broken.ctx, { fixBroken: true }), { ok: true, problems: [] });
    const locked = guest({ 'verify-dry': { exitCode: 7, stderr: LOCKED } });
    assert.deepEqual(await zypperDriver.precheck(locked.ctx, { fixBroken: true }), {
      ok: false,
      problems: [
        'unable to check dependencies - zypp lock /run/zypp.pid is held by process 4242 (sleep) after waiting 1s',
      ],
    });
  });

  it('refresh: a repository that is gone is patch-failed with its cause; exit 106 is only noted', async () => {
    const gone = guest({ refresh: { exitCode: 4, stderr: fixture('zypper/refresh-fail.txt.stderr') } });
    await assert.rejects(zypperDriver.refresh(gone.ctx), {
      code: 'patch-failed',
      message: /^unable to refresh repositories - Problem retrieving files from 'demo'\. .* \(zypper exit 4\)$/,
    });
    const lines: string[] = [];
    const skipped = guest({ refresh: { exitCode: 106 } });
    await zypperDriver.refresh({ ...skipped.ctx, log: (l) => lines.push(l) });
    assert.ok(lines.includes('zypper exit 106: some repositories were skipped because they could not be refreshed'));
  });

  it('rebootRequired: needs-rebooting 102, /run/reboot-required with its packages, the flag file when locked', async () => {
    const zypp = guest({ 'needs-rebooting': { exitCode: 102 } });
    assert.deepEqual(await zypperDriver.rebootRequired(zypp.ctx), { required: true, packages: [] });
    const debianStyle = guest({ 'reboot?': { exitCode: 0 }, 'reboot-pkgs': { stdout: 'demo-app\ndemo-app\n' } });
    assert.deepEqual(await zypperDriver.rebootRequired(debianStyle.ctx), { required: true, packages: ['demo-app'] });
    const locked = guest({ 'needs-rebooting': { exitCode: 7, stderr: LOCKED }, 'reboot-needed?': { exitCode: 0 } });
    assert.deepEqual(await zypperDriver.rebootRequired(locked.ctx), { required: true, packages: [] });
    assert.deepEqual(locked.events, ['needs-rebooting', 'reboot-needed?', 'reboot?', 'reboot-pkgs']);
    assert.deepEqual(await zypperDriver.rebootRequired(guest().ctx), { required: false, packages: [] });
  });

  it('releaseHolds removes exactly the recorded locks, package and patch', async () => {
    const g = guest({}, [{ name: 'demo-lib' }, { name: 'demo-tool' }, { name: 'DEMO-SA-2026:0001', type: 'patch' }]);
    await zypperDriver.releaseHolds(g.ctx, ['demo-tool', 'patch:DEMO-SA-2026:0001']);
    assert.deepEqual(g.locks, [{ name: 'demo-lib' }]);
    assert.deepEqual(g.t.calls[0]?.slice(-4), ['removelock', '--', 'demo-tool', 'patch:DEMO-SA-2026:0001']);
    await zypperDriver.releaseHolds(g.ctx, []);
    assert.equal(g.t.calls.length, 1);
    await assert.rejects(zypperDriver.releaseHolds(g.ctx, ['$(reboot)']), { code: 'input-invalid' });
    await assert.rejects(zypperDriver.releaseHolds(g.ctx, ['1']), { code: 'input-invalid' });
  });
});
