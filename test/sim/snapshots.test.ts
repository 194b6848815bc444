import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allValid, simFor } from './fixture.js';
import { call, data, waitStopped } from './test-client.js';

const UPID = /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vzsnapshot:101:root@pam!pvepatch:$/;

async function snapshot(sim: Parameters<typeof data>[0], vmid: number, snapname: string, type = 'lxc') {
  return data<string>(sim, 'POST', `/nodes/pve1/${type}/${vmid}/snapshot`, { form: { snapname } });
}

test('snapshot create returns a UPID; the task runs with lock: snapshot, calls the backend, ends OK', async (t) => {
  const { sim, backend } = await simFor(t, { taskDelayMs: 150 });
  const upid = await snapshot(sim, 101, 'pre-patch');
  assert.match(upid, UPID);
  const path = `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`;
  const running = await data<Record<string, unknown>>(sim, 'GET', path);
  assert.equal(running.status, 'running');
  assert.equal(running.exitstatus, undefined);
  assert.equal(running.user, 'root@pam');
  assert.equal(running.tokenid, 'pvepatch');
  assert.equal(running.type, 'vzsnapshot');
  const during = await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve1/lxc/101/config');
  assert.equal(during.lock, 'snapshot');
  const resources = await data<Array<Record<string, unknown>>>(sim, 'GET', '/cluster/resources', {
    query: { type: 'vm' },
  });
  assert.equal(resources.find((r) => r.vmid === 101)?.lock, 'snapshot');

  const done = await waitStopped(sim, 'pve1', upid);
  assert.equal(done.exitstatus, 'OK');
  assert.deepEqual(backend.calls, [{ op: 'create', vmid: 101, name: 'pre-patch', lock: 'snapshot' }]);
  const after = await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve1/lxc/101/config');
  assert.equal(after.lock, undefined);
  assert.equal(after.parent, 'pre-patch');
  assert.notEqual(after.digest, during.digest);
  const log = await call(sim, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`);
  assert.deepEqual(log.json, { data: [{ n: 1, t: 'TASK OK' }], total: 1 });
  assert.ok(allValid(sim));
});

test('the snapshot list has every snapshot and then current with running and parent', async (t) => {
  const { sim } = await simFor(t, { taskDelayMs: 0 });
  await sim.waitTask(await snapshot(sim, 101, 'first'));
  const upid = await data<string>(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', {
    form: { snapname: 'second', description: 'before patch' },
  });
  await sim.waitTask(upid);
  const list = await data<Array<Record<string, unknown>>>(sim, 'GET', '/nodes/pve1/lxc/101/snapshot');
  assert.deepEqual(
    list.map(({ snaptime: _s, digest: _d, ...rest }) => rest),
    [
      { name: 'first', description: '' },
      { name: 'second', description: 'before patch', parent: 'first' },
      { name: 'current', running: 1, description: 'You are here!', parent: 'second' },
    ],
  );
  assert.equal(typeof list[0]?.snaptime, 'number');
  const qemu = await data<Array<Record<string, unknown>>>(sim, 'GET', '/nodes/pve1/qemu/200/snapshot');
  assert.deepEqual(
    qemu.map((s) => s.name),
    ['current'],
  );
});

test('checks made inside the worker fail the task with PVE texts', async (t) => {
  const { sim, backend } = await simFor(t, { taskDelayMs: 0 });
  await sim.waitTask(await snapshot(sim, 101, 'dup'));
  const cases: Array<[number, string, string]> = [
    [101, 'dup', "snapshot name 'dup' already used"],
    [900, 'x1', "you can't take a snapshot if it's a template"],
    [999, 'x1', "Configuration file 'nodes/pve1/lxc/999.conf' does not exist"],
    [103, 'x1', "Configuration file 'nodes/pve1/lxc/103.conf' does not exist"],
  ];
  for (const [vmid, name, text] of cases) {
    const task = await sim.waitTask(await snapshot(sim, vmid, name));
    assert.equal(task.exitstatus, text);
    assert.equal(task.log.at(-1), `TASK ERROR: ${text}`);
  }
  sim.setGuest(102, { lock: 'backup' });
  const locked = await sim.waitTask(await snapshot(sim, 102, 'x1'));
  assert.equal(locked.exitstatus, 'CT is locked (backup)');
  assert.equal(sim.guest(102).lock, 'backup');
  sim.setGuest(200, { lock: 'backup' });
  assert.equal((await sim.waitTask(await snapshot(sim, 200, 'x1', 'qemu'))).exitstatus, 'VM is locked (backup)');
  assert.equal(backend.calls.length, 1);
});

test('checks PVE makes before forking the worker answer 500', async (t) => {
  const { sim } = await simFor(t);
  const reserved = await call(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: 'vzdump' } });
  assert.equal(reserved.status, 500);
  assert.equal(reserved.statusText, "unable to use snapshot name 'vzdump' (reserved name)");
  const pending = await call(sim, 'POST', '/nodes/pve1/qemu/200/snapshot', { form: { snapname: 'Pending' } });
  assert.equal(pending.statusText, "unable to use snapshot name 'pending' (reserved name)");
  const current = await call(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: 'current' } });
  assert.equal(current.statusText, "unable to use snapshot name 'current' (reserved name)");
  const noVm = await call(sim, 'POST', '/nodes/pve1/qemu/999/snapshot', { form: { snapname: 'x1' } });
  assert.equal(noVm.status, 500);
  assert.deepEqual(noVm.json, {
    data: null,
    message: "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n",
  });
  assert.equal(sim.tasks().length, 0);
});

test('failSnapshots makes later create tasks fail with the storage text, without calling the backend', async (t) => {
  const { sim, backend } = await simFor(t, { taskDelayMs: 0 });
  sim.failSnapshots(101);
  const task = await sim.waitTask(await snapshot(sim, 101, 'x1'));
  assert.equal(task.exitstatus, 'snapshot feature is not available');
  assert.deepEqual(task.log, ['TASK ERROR: snapshot feature is not available']);
  assert.equal(sim.guest(101).lock, undefined);
  sim.failSnapshots(101, 'zfs error: out of space');
  assert.equal((await sim.waitTask(await snapshot(sim, 101, 'x2'))).exitstatus, 'zfs error: out of space');
  sim.failSnapshots(101, null);
  assert.equal((await sim.waitTask(await snapshot(sim, 101, 'x3'))).exitstatus, 'OK');
  assert.equal(backend.calls.length, 1);
});

test('a failing backend is cleaned up: warning line, no snapshot, no lock, PVE’s trailing space', async (t) => {
  const { sim, backend } = await simFor(t, { taskDelayMs: 0 });
  backend.failures.set('create', 'zfs snapshot failed');
  const task = await sim.waitTask(await snapshot(sim, 101, 'x1'));
  assert.equal(task.exitstatus, 'zfs snapshot failed ');
  assert.deepEqual(task.log, ['snapshot create failed: starting cleanup', 'TASK ERROR: zfs snapshot failed ']);
  assert.deepEqual(sim.guest(101).snapshots, []);
  assert.equal(sim.guest(101).lock, undefined);
});

test('qemu snapshots log each disk and keep vmstate only for a running VM', async (t) => {
  const { sim } = await simFor(t, { taskDelayMs: 0 });
  const upid = await data<string>(sim, 'POST', '/nodes/pve1/qemu/200/snapshot', {
    form: { snapname: 's1', vmstate: 1 },
  });
  assert.match(upid, /:qmsnapshot:200:/);
  const task = await sim.waitTask(upid);
  assert.deepEqual(task.log, ["snapshotting 'scsi0' (local-zfs:vm-200-disk-0)", 'TASK OK']);
  const list = await data<Array<Record<string, unknown>>>(sim, 'GET', '/nodes/pve1/qemu/200/snapshot');
  assert.equal(list[0]?.vmstate, 1);
});
