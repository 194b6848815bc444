import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { allValid, simFor } from './fixture.js';
import { call, data, waitStopped } from './test-client.js';

type Entry = Record<string, unknown>;

async function until(what: () => boolean, ms = 2000): Promise<void> {
  for (let waited = 0; !what() && waited < ms; waited += 10) await sleep(10);
}

test('HA resources and status: config as written, CRM view with defaults, Sys.Audit on /', async (t) => {
  const { sim } = await simFor(t);
  // a cluster whose CRM never ran: quorum and fencing standby only
  const idle = await data<Entry[]>(sim, 'GET', '/cluster/ha/status/current');
  assert.deepEqual(
    idle.map((e) => [e.id, e['armed-state']]),
    [
      ['quorum', undefined],
      ['fencing', 'standby'],
    ],
  );
  assert.deepEqual(await data(sim, 'GET', '/cluster/ha/resources'), []);

  sim.setHaResource('vm:200', { group: 'prod', max_restart: 2 });
  sim.setHaResource('ct:101', { state: 'ignored' });
  sim.setHaResource('ct:103', { state: 'started', crm_state: 'error' });
  assert.throws(() => sim.setHaResource('vm:101'), /is not a VM/);

  const list = await data<Entry[]>(sim, 'GET', '/cluster/ha/resources');
  assert.deepEqual(
    list.map((r) => [r.sid, r.type, r.state]),
    [
      ['ct:101', 'ct', 'ignored'],
      ['ct:103', 'ct', 'started'],
      ['vm:200', 'vm', undefined], // the default is not written to resources.cfg
    ],
  );
  assert.match(String(list[0]!.digest), /^[0-9a-f]{40}$/);
  assert.deepEqual(
    (await data<Entry[]>(sim, 'GET', '/cluster/ha/resources', { query: { type: 'vm' } })).map((r) => r.sid),
    ['vm:200'],
  );
  const one = await data<Entry>(sim, 'GET', '/cluster/ha/resources/200'); // a bare VMID is looked up
  assert.deepEqual(
    { sid: one.sid, group: one.group, max_restart: one.max_restart },
    { sid: 'vm:200', group: 'prod', max_restart: 2 },
  );
  const missing = await call(sim, 'GET', '/cluster/ha/resources/vm:102');
  assert.equal(missing.json?.message, "no such resource 'vm:102'\n");
  const unknown = await call(sim, 'GET', '/cluster/ha/resources/777');
  assert.equal(unknown.json?.message, 'unable to detect SID from VMID - VM/CT 777 does not exist\n');
  const bad = await call(sim, 'GET', '/cluster/ha/resources/VM:200');
  assert.equal(bad.status, 400);
  assert.equal(bad.json?.errors?.sid, 'invalid format - value does not look like a valid ha resource id\n');

  const status = await data<Entry[]>(sim, 'GET', '/cluster/ha/status/current');
  assert.deepEqual(
    status.map((e) => e.id),
    [
      'quorum',
      'master',
      'fencing',
      'lrm:pve1',
      'lrm:pve2',
      'service:ct:103',
      'service:vm:200',
      'service:ct:101', // ignored: only in the config, listed after the manager's
    ],
  );
  const svc = (sid: string) => status.find((e) => e.sid === sid)!;
  assert.deepEqual(
    [svc('vm:200').crm_state, svc('vm:200').state, svc('vm:200').request_state, svc('vm:200').max_relocate],
    ['started', 'started', 'started', 1],
  );
  assert.equal(svc('vm:200').status, 'vm:200 (pve1, started)');
  assert.deepEqual([svc('ct:103').state, svc('ct:103').node], ['error', 'pve2']);
  assert.deepEqual([svc('ct:101').crm_state, svc('ct:101').state], [undefined, 'ignored']);
  assert.match(String(status[1]!.status), /^pve1 \(active, \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\)$/);
  assert.match(String(status.find((e) => e.id === 'lrm:pve2')!.status), /^pve2 \(idle, watchdog standby, /);

  // status/current's ha is get_service_status: an ignored resource counts as not managed
  const ha = async (type: string, vmid: number) =>
    (await data<Entry>(sim, 'GET', `/nodes/${vmid === 103 ? 'pve2' : 'pve1'}/${type}/${vmid}/status/current`)).ha;
  assert.deepEqual(await ha('qemu', 200), { managed: 1, state: 'started' });
  assert.deepEqual(await ha('lxc', 101), { managed: 0 });
  assert.deepEqual(await ha('lxc', 103), { managed: 1, state: 'error' });
  assert.deepEqual(await ha('lxc', 102), { managed: 0 });
  const resources = await data<Entry[]>(sim, 'GET', '/cluster/resources', { query: { type: 'vm' } });
  assert.deepEqual(
    resources.filter((r) => r.hastate).map((r) => [r.vmid, r.hastate]),
    [
      [101, 'ignored'],
      [103, 'error'],
      [200, 'started'],
    ],
  );

  sim.addUser('alice@pve', { password: 'pw' });
  sim.addRole('Audit', ['VM.Audit']);
  sim.setAcl({ path: '/vms', roles: ['Audit'], users: ['alice@pve'] });
  const auth = `PVEAuthCookie=${sim.ticketFor('alice@pve').ticket}`;
  for (const path of ['/cluster/ha/resources', '/cluster/ha/resources/vm:200', '/cluster/ha/status/current']) {
    const res = await call(sim, 'GET', path, { auth });
    assert.equal(res.statusText, 'Permission check failed (/, Sys.Audit)', path);
  }
  // the ha of status/current needs only VM.Audit
  const st = await data<Entry>(sim, 'GET', '/nodes/pve1/qemu/200/status/current', { auth });
  assert.deepEqual(st.ha, { managed: 1, state: 'started' });
  sim.removeHaResource('vm:200');
  assert.deepEqual(await ha('qemu', 200), { managed: 0 });
  assert.ok(sim.requests.every((r) => r.status !== 501));
});

test('reboot of an HA VM: not forwarded, but its restart is a hastart task; error state keeps it down', async (t) => {
  const { sim } = await simFor(t);
  sim.setHaResource('vm:200', {});
  const upid = await data<string>(sim, 'POST', '/nodes/pve1/qemu/200/status/reboot');
  assert.match(upid, /:qmreboot:200:root@pam!pvepatch:$/);
  assert.equal((await waitStopped(sim, 'pve1', upid)).exitstatus, 'OK');
  await until(() => sim.guest(200).status === 'running');
  assert.equal(sim.guest(200).status, 'running');
  const hastart = sim.tasks().find((x) => x.type === 'hastart')!;
  assert.deepEqual([hastart.id, hastart.user, hastart.node], ['200', 'root@pam', 'pve1']);
  assert.equal((await sim.waitTask(hastart.upid)).exitstatus, 'OK');

  // in error state `ha-manager set --state started` is refused: the VM stays down
  sim.setHaResource('vm:200', { crm_state: 'error' });
  const again = await data<string>(sim, 'POST', '/nodes/pve1/qemu/200/status/reboot');
  assert.equal((await waitStopped(sim, 'pve1', again)).exitstatus, 'OK');
  const failed = sim.tasks().filter((x) => x.type === 'hastart')[1]!;
  assert.equal(
    (await sim.waitTask(failed.upid)).exitstatus,
    "service 'vm:200' in error state, must be disabled and fixed first",
  );
  await sleep(100);
  assert.equal(sim.guest(200).status, 'stopped');

  // a CT's reboot stops and starts it inside vzreboot (PVE::LXC::vm_reboot): no HA task
  sim.setHaResource('ct:101', {});
  const ct = await data<string>(sim, 'POST', '/nodes/pve1/lxc/101/status/reboot');
  assert.equal((await waitStopped(sim, 'pve1', ct)).exitstatus, 'OK');
  await until(() => sim.guest(101).status === 'running');
  assert.equal(sim.tasks().filter((x) => x.type === 'hastart').length, 2);
  assert.ok(allValid(sim));
});

test('rollback with start=1 of an HA guest hands the start to HA (hastart by the caller)', async (t) => {
  const { sim } = await simFor(t);
  const snap = await data<string>(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: 'pre' } });
  await waitStopped(sim, 'pve1', snap);
  sim.setHaResource('ct:101', { state: 'started' });
  const upid = await data<string>(sim, 'POST', '/nodes/pve1/lxc/101/snapshot/pre/rollback', { form: { start: 1 } });
  assert.equal((await waitStopped(sim, 'pve1', upid)).exitstatus, 'OK');
  const hastart = sim.tasks().find((x) => x.type === 'hastart');
  assert.equal(hastart?.user, 'root@pam!pvepatch');
  await until(() => sim.guest(101).status === 'running');
  assert.equal(sim.guest(101).status, 'running');
});
