import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Lab } from './lab.js';
import { installLabServices, LAB_SYSTEMCTL, labUnitState, waitForLabUnit } from './lab-services.js';

const VMID = 131;

describe('lab services (systemd stand-in)', () => {
  let lab: Lab;
  const ctl = (...args: string[]) => lab.exec(VMID, [LAB_SYSTEMCTL, ...args]);

  before(async () => {
    lab = await Lab.create({ dir: await mkdtemp(path.join(os.tmpdir(), 'pvepatch-lab-')), guests: [{ vmid: VMID }] });
    await installLabServices(lab, VMID, [
      { name: 'lab-daemon', exec: ['sleep', 'infinity'], enabled: true, description: 'Lab Daemon' },
      { name: 'lab-broken', exec: ['sh', '-c', 'echo starting; exit 1'], enabled: true, description: 'Lab Broken' },
      { name: 'lab-idle', exec: ['sleep', 'infinity'] },
    ]);
  });

  after(async () => {
    await lab?.destroy();
  });

  test('an enabled unit whose process lives is active and enabled', async () => {
    await waitForLabUnit(lab, VMID, 'lab-daemon', 'active');
    assert.deepEqual(await ctl('is-active', 'lab-daemon.service'), { exitCode: 0, stdout: 'active\n', stderr: '' });
    assert.deepEqual(await ctl('is-enabled', 'lab-daemon'), { exitCode: 0, stdout: 'enabled\n', stderr: '' });
    assert.deepEqual(await ctl('is-failed', 'lab-daemon'), { exitCode: 1, stdout: 'active\n', stderr: '' });
    assert.deepEqual(await ctl('is-active', '--quiet', 'lab-daemon'), { exitCode: 0, stdout: '', stderr: '' });
  });

  test('a unit that exits 1 is failed and listed by list-units --failed', async () => {
    await waitForLabUnit(lab, VMID, 'lab-broken', 'failed');
    assert.deepEqual(await ctl('is-active', '--', 'lab-broken'), { exitCode: 3, stdout: 'failed\n', stderr: '' });
    assert.deepEqual(await ctl('is-failed', 'lab-broken'), { exitCode: 0, stdout: 'failed\n', stderr: '' });
    const list = await ctl('list-units', '--failed', '--plain', '--no-legend', '--no-pager', '--full');
    assert.deepEqual(list, { exitCode: 0, stdout: 'lab-broken.service loaded failed failed Lab Broken\n', stderr: '' });
  });

  test('a disabled unit is inactive and disabled; start, stop and restart change that', async () => {
    assert.deepEqual(await ctl('is-active', 'lab-idle'), { exitCode: 3, stdout: 'inactive\n', stderr: '' });
    assert.deepEqual(await ctl('is-enabled', 'lab-idle'), { exitCode: 1, stdout: 'disabled\n', stderr: '' });
    assert.equal((await ctl('start', 'lab-idle')).exitCode, 0);
    assert.equal(await labUnitState(lab, VMID, 'lab-idle'), 'active');
    assert.equal((await ctl('restart', 'lab-idle')).exitCode, 0);
    assert.equal(await labUnitState(lab, VMID, 'lab-idle'), 'active');
    assert.equal((await ctl('stop', 'lab-idle')).exitCode, 0);
    assert.equal(await labUnitState(lab, VMID, 'lab-idle'), 'inactive');
    assert.equal((await ctl('list-units', '--failed', '--plain', '--no-legend')).stdout.includes('lab-idle'), false);
  });

  test('unknown units and verbs answer like systemctl', async () => {
    assert.deepEqual(await ctl('is-active', 'nope'), { exitCode: 3, stdout: 'inactive\n', stderr: '' });
    assert.deepEqual(await ctl('start', 'nope'), {
      exitCode: 5,
      stdout: '',
      stderr: 'Failed to start nope.service: Unit nope.service not found.\n',
    });
    assert.deepEqual(await ctl('is-enabled', 'nope'), {
      exitCode: 1,
      stdout: '',
      stderr: 'Failed to get unit file state for nope.service: No such file or directory\n',
    });
    assert.deepEqual(await ctl('frobnicate', 'nope'), {
      exitCode: 1,
      stdout: '',
      stderr: "Unknown command verb 'frobnicate'.\n",
    });
  });

  test('pct stop / pct start brings the enabled units back; disabled ones stay down', async () => {
    assert.equal((await ctl('start', 'lab-idle')).exitCode, 0);
    await lab.setStatus(VMID, 'stopped');
    await lab.setStatus(VMID, 'running');
    await waitForLabUnit(lab, VMID, 'lab-daemon', 'active');
    await waitForLabUnit(lab, VMID, 'lab-broken', 'failed');
    assert.equal(await labUnitState(lab, VMID, 'lab-idle'), 'inactive');
    assert.equal(await lab.fileExists(VMID, '/run/systemd/system'), false);
  });

  test('disable removes the link and the unit stays down after a restart of the guest', async () => {
    const res = await ctl('disable', 'lab-daemon');
    assert.deepEqual(res, {
      exitCode: 0,
      stdout: '',
      stderr: 'Removed "/etc/systemd/system/multi-user.target.wants/lab-daemon.service".\n',
    });
    await lab.setStatus(VMID, 'stopped');
    await lab.setStatus(VMID, 'running');
    await waitForLabUnit(lab, VMID, 'lab-broken', 'failed'); // the boot hook has run
    assert.equal(await labUnitState(lab, VMID, 'lab-daemon'), 'inactive');
  });
});
