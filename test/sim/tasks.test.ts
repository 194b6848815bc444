import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simFor } from './fixture.js';
import { call, data } from './test-client.js';

type Entry = Record<string, unknown>;
const enc = encodeURIComponent;

test('a vzdump holds lock: backup and shows in /cluster/tasks without endtime until it ends', async (t) => {
  const { sim } = await simFor(t);
  const upid = sim.startVzdump({ node: 'pve1', vmids: [101] });
  assert.match(upid, /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vzdump:101:root@pam:$/);
  const resources = await data<Entry[]>(sim, 'GET', '/cluster/resources', { query: { type: 'vm' } });
  assert.equal(resources.find((r) => r.vmid === 101)?.lock, 'backup');
  const conf = await data<Entry>(sim, 'GET', '/nodes/pve1/lxc/101/config');
  assert.equal(conf.lock, 'backup');
  const running = (await data<Entry[]>(sim, 'GET', '/cluster/tasks')).find((e) => e.upid === upid)!;
  assert.equal(running.type, 'vzdump');
  assert.equal(running.id, '101');
  assert.equal(running.user, 'root@pam');
  assert.equal(running.saved, '0');
  assert.equal(typeof running.pid, 'number');
  assert.ok(!('endtime' in running) && !('status' in running) && !('pstart' in running));

  sim.finishTask(upid);
  const done = (await data<Entry[]>(sim, 'GET', '/cluster/tasks')).find((e) => e.upid === upid)!;
  assert.equal(done.status, 'OK');
  assert.equal(done.saved, '1');
  assert.equal(typeof done.endtime, 'number');
  assert.ok(!('pid' in done));
  assert.equal(sim.guest(101).lock, undefined);
  const log = await data<Array<{ t: string }>>(sim, 'GET', `/nodes/pve1/tasks/${enc(upid)}/log`);
  assert.equal(log.at(-1)?.t, 'TASK OK');
  assert.equal(log[0]?.t, 'INFO: starting new backup job: vzdump 101 --mode snapshot --storage sim-backup');
});

test('a vzdump of several guests has an empty id, ends by itself, and skips a locked guest', async (t) => {
  const { sim } = await simFor(t);
  sim.setGuest(102, { lock: 'snapshot' });
  const upid = sim.startVzdump({ node: 'pve1', vmids: [101, 102, 200], durationMs: 80 });
  assert.match(upid, /:vzdump::root@pam:$/);
  assert.equal(sim.guest(200).lock, 'backup');
  assert.equal(sim.guest(102).lock, 'snapshot');
  const task = await sim.waitTask(upid);
  assert.equal(task.exitstatus, 'job errors');
  assert.ok(task.log.includes('ERROR: Backup of VM 102 failed - CT is locked (snapshot)'));
  assert.equal(sim.guest(200).lock, undefined);
  assert.equal(sim.guest(102).lock, 'snapshot');
});

test('node tasks: source=active lists running tasks as RUNNING, archive the finished ones, with filters', async (t) => {
  const { sim } = await simFor(t, { taskDelayMs: 0 });
  const backup = sim.startVzdump({ node: 'pve1', vmids: [102] });
  const snap = await data<string>(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: 's1' } });
  await sim.waitTask(snap);
  const failed = await data<string>(sim, 'POST', '/nodes/pve1/lxc/102/snapshot', { form: { snapname: 's1' } });
  await sim.waitTask(failed);
  sim.startTask({ node: 'pve2', type: 'vzdump', id: '103' });

  const active = await call(sim, 'GET', '/nodes/pve1/tasks', { query: { source: 'active' } });
  assert.deepEqual(
    ((active.json?.data ?? []) as Entry[]).map((e) => [e.upid, e.status]),
    [[backup, 'RUNNING']],
  );
  assert.equal(active.json?.total, 1);
  const archive = await data<Entry[]>(sim, 'GET', '/nodes/pve1/tasks');
  assert.deepEqual(
    archive.map((e) => [e.upid, e.status]),
    [
      [failed, 'CT is locked (backup)'],
      [snap, 'OK'],
    ],
  );
  assert.equal(archive[1]?.tokenid, 'pvepatch');
  assert.equal(archive[1]?.user, 'root@pam');
  const q = (query: Record<string, string | number>) => data<Entry[]>(sim, 'GET', '/nodes/pve1/tasks', { query });
  assert.deepEqual(
    (await q({ source: 'all', typefilter: 'vzdump' })).map((e) => e.upid),
    [backup],
  );
  assert.deepEqual(
    (await q({ source: 'all', vmid: 101 })).map((e) => e.upid),
    [snap],
  );
  assert.deepEqual(
    (await q({ errors: 1 })).map((e) => e.upid),
    [failed],
  );
  assert.deepEqual(
    (await q({ statusfilter: 'ok' })).map((e) => e.upid),
    [snap],
  );
  assert.deepEqual((await q({ source: 'all', userfilter: 'ROOT@pam' })).length, 3);
  assert.deepEqual(
    (await q({ source: 'all', limit: 1, start: 1 })).map((e) => e.upid),
    [failed],
  );
  const paged = await call(sim, 'GET', '/nodes/pve1/tasks', { query: { source: 'all', limit: 1 } });
  assert.equal(paged.json?.total, 3);
  assert.deepEqual((await q({ since: 4_000_000_000 })).length, 0);
  const cluster = await data<Entry[]>(sim, 'GET', '/cluster/tasks');
  assert.deepEqual(
    cluster.map((e) => e.node),
    ['pve1', 'pve1', 'pve1', 'pve2'],
  );
});

test('task status reports running, then stopped with exitstatus; DELETE stops a running task', async (t) => {
  const { sim } = await simFor(t);
  const upid = sim.startTask({
    node: 'pve2',
    type: 'vzdump',
    id: '103',
    log: ['INFO: one', 'INFO: two', 'INFO: three'],
  });
  const status = `/nodes/pve2/tasks/${enc(upid)}/status`;
  const running = await data<Entry>(sim, 'GET', status);
  assert.deepEqual(Object.keys(running).sort(), [
    'id',
    'node',
    'pid',
    'pstart',
    'starttime',
    'status',
    'type',
    'upid',
    'user',
  ]);
  assert.equal(running.status, 'running');
  const onOtherNode = await call(sim, 'GET', `/nodes/pve1/tasks/${enc(upid)}/status`);
  assert.equal(onOtherNode.json?.errors?.upid, 'no such task');
  const page = await call(sim, 'GET', `/nodes/pve2/tasks/${enc(upid)}/log`, { query: { start: 1, limit: 1 } });
  assert.deepEqual(page.json, { data: [{ n: 2, t: 'INFO: two' }], total: 3 });
  assert.deepEqual(await data(sim, 'DELETE', `/nodes/pve2/tasks/${enc(upid)}`), null);
  const stopped = await data<Entry>(sim, 'GET', status);
  assert.equal(stopped.status, 'stopped');
  assert.equal(stopped.exitstatus, 'interrupted by signal');
  assert.deepEqual(
    await data(sim, 'DELETE', `/nodes/pve2/tasks/${enc(upid)}`),
    null,
    'stopping a stopped task is a no-op',
  );
  assert.throws(() => sim.finishTask(upid), /already stopped/);
});

test('stopping a snapshot task interrupts its worker and leaves the lock, as a killed PVE worker does', async (t) => {
  const { sim, backend } = await simFor(t, { taskDelayMs: 200 });
  const upid = await data<string>(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: 's1' } });
  await new Promise((r) => setTimeout(r, 20));
  await data(sim, 'DELETE', `/nodes/pve1/tasks/${enc(upid)}`);
  const task = await sim.waitTask(upid);
  assert.equal(task.exitstatus, 'received interrupt');
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(backend.calls.length, 0);
  assert.equal(sim.guest(101).lock, 'snapshot');
});

test('finishTask can end a task with warnings or an error', async (t) => {
  const { sim } = await simFor(t);
  const warn = sim.startTask({ node: 'pve1', type: 'qmstart', id: '200' });
  sim.finishTask(warn, 'WARNINGS: 2');
  const err = sim.startTask({ node: 'pve1', type: 'qmstart', id: '200' });
  sim.finishTask(err, 'start failed');
  assert.deepEqual(
    sim.tasks().map((x) => [x.exitstatus, x.log.at(-1)]),
    [
      ['WARNINGS: 2', 'TASK WARNINGS: 2'],
      ['start failed', 'TASK ERROR: start failed'],
    ],
  );
});
