import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simFor } from './fixture.js';
import { call, data } from './test-client.js';
import type { Sim } from './types.js';

async function run(sim: Sim, method: string, path: string, form?: Record<string, string | number>) {
  const params = method === 'DELETE' ? { query: form ?? {} } : { form: form ?? {} };
  return sim.waitTask(await data<string>(sim, method, path, params));
}

async function snapshots(sim: Sim, vmid: number, ...names: string[]) {
  for (const snapname of names) await run(sim, 'POST', `/nodes/pve1/lxc/${vmid}/snapshot`, { snapname });
}

test('delete holds lock: snapshot-delete while the backend runs and re-parents children', async (t) => {
  const { sim, backend } = await simFor(t, { taskDelayMs: 0 });
  await snapshots(sim, 101, 'a1', 'b1', 'c1');
  const task = await run(sim, 'DELETE', '/nodes/pve1/lxc/101/snapshot/b1');
  assert.match(task.upid, /:vzdelsnapshot:101:/);
  assert.equal(task.exitstatus, 'OK');
  assert.deepEqual(backend.calls.at(-1), { op: 'remove', vmid: 101, name: 'b1', lock: 'snapshot-delete' });
  const g = sim.guest(101);
  assert.deepEqual(
    g.snapshots.map((s) => [s.name, s.parent]),
    [
      ['a1', undefined],
      ['c1', 'a1'],
    ],
  );
  assert.equal(g.parent, 'c1');
  assert.equal(g.lock, undefined);
  await run(sim, 'DELETE', '/nodes/pve1/lxc/101/snapshot/c1');
  assert.equal(sim.guest(101).parent, 'a1');
});

test('delete of an unknown snapshot or of a locked guest fails the task', async (t) => {
  const { sim } = await simFor(t, { taskDelayMs: 0 });
  assert.equal(
    (await run(sim, 'DELETE', '/nodes/pve1/lxc/101/snapshot/nope')).exitstatus,
    "snapshot 'nope' does not exist",
  );
  await snapshots(sim, 101, 'a1');
  sim.setGuest(101, { lock: 'backup' });
  assert.equal((await run(sim, 'DELETE', '/nodes/pve1/lxc/101/snapshot/a1')).exitstatus, 'CT is locked (backup)');
  sim.setGuest(101, { lock: undefined });
  assert.equal(sim.guest(101).lock, undefined);
});

test('a failed backend delete leaves lock and snapstate as PVE does; force carries on with a warning', async (t) => {
  const { sim, backend } = await simFor(t, { taskDelayMs: 0 });
  await snapshots(sim, 101, 'a1', 'b1');
  backend.failures.set('remove', 'zfs destroy failed');
  assert.equal((await run(sim, 'DELETE', '/nodes/pve1/lxc/101/snapshot/a1')).exitstatus, 'zfs destroy failed');
  assert.equal(sim.guest(101).lock, 'snapshot-delete');
  assert.equal(sim.guest(101).snapshots[0]?.snapstate, 'delete');
  sim.setGuest(101, { lock: undefined });
  const forced = await run(sim, 'DELETE', '/nodes/pve1/lxc/101/snapshot/b1', { force: 1 });
  assert.equal(forced.exitstatus, 'WARNINGS: 1');
  assert.deepEqual(forced.log, ['zfs destroy failed', 'TASK WARNINGS: 1']);
  assert.deepEqual(
    sim.guest(101).snapshots.map((s) => s.name),
    ['a1'],
  );
});

test('rollback stops a running CT, holds lock: rollback, restores the saved config and can start it', async (t) => {
  const { sim, backend } = await simFor(t, { taskDelayMs: 0 });
  await snapshots(sim, 101, 'clean');
  sim.setGuest(101, { name: 'renamed', tags: ['x'], config: { cores: 4 } });
  const task = await run(sim, 'POST', '/nodes/pve1/lxc/101/snapshot/clean/rollback');
  assert.match(task.upid, /:vzrollback:101:/);
  assert.equal(task.exitstatus, 'OK');
  assert.deepEqual(backend.calls.at(-1), { op: 'rollback', vmid: 101, name: 'clean', lock: 'rollback' });
  const g = sim.guest(101);
  assert.equal(g.status, 'stopped');
  assert.equal(g.name, 'web');
  assert.deepEqual(g.tags, ['prod', 'web']);
  assert.equal(g.lock, undefined);
  assert.equal(g.parent, 'clean');
  await run(sim, 'POST', '/nodes/pve1/lxc/101/snapshot/clean/rollback', { start: 1 });
  assert.equal(sim.guest(101).status, 'running');
  const conf = await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve1/lxc/101/config');
  assert.equal(conf.hostname, 'web');
  assert.equal(conf.cores, 1);
});

test('rollback refuses unknown snapshots, locked guests and templates with PVE texts', async (t) => {
  const { sim, backend } = await simFor(t, { taskDelayMs: 0 });
  const path = '/nodes/pve1/lxc/101/snapshot/nope/rollback';
  assert.equal((await run(sim, 'POST', path)).exitstatus, "snapshot 'nope' does not exist");
  assert.equal(
    (await run(sim, 'POST', '/nodes/pve1/lxc/900/snapshot/a1/rollback')).exitstatus,
    "you can't rollback if vm is a template",
  );
  await snapshots(sim, 101, 'a1');
  sim.setGuest(101, { lock: 'backup' });
  assert.equal(
    (await run(sim, 'POST', '/nodes/pve1/lxc/101/snapshot/a1/rollback')).exitstatus,
    'CT is locked (backup)',
  );
  assert.equal(sim.guest(101).status, 'running', 'a refused rollback leaves the guest running');
  assert.equal(backend.calls.filter((c) => c.op === 'rollback').length, 0);
});

test('the config of a snapshot is readable and snapshot/{name} lists its sub-commands', async (t) => {
  const { sim } = await simFor(t, { taskDelayMs: 0 });
  await snapshots(sim, 102, 'a1');
  const conf = await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve1/lxc/102/config', {
    query: { snapshot: 'a1' },
  });
  assert.equal(conf.hostname, 'db');
  assert.equal(conf.ostype, 'alpine');
  assert.equal(typeof conf.snaptime, 'number');
  assert.equal(conf.lock, undefined);
  const missing = await call(sim, 'GET', '/nodes/pve1/lxc/102/config', { query: { snapshot: 'zz' } });
  assert.equal(missing.statusText, "snapshot 'zz' does not exist");
  assert.deepEqual(await data(sim, 'GET', '/nodes/pve1/lxc/102/snapshot/a1'), [{ cmd: 'rollback' }, { cmd: 'config' }]);
});
