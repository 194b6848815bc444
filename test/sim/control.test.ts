import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allValid, simFor } from './fixture.js';
import { call, data } from './test-client.js';

type Entry = Record<string, unknown>;

test('inject answers matching requests with a 500 and PVE’s body, `times` often', async (t) => {
  const { sim } = await simFor(t);
  sim.inject({ method: 'GET', path: '/cluster/resources', message: 'cfs-lock timeout', times: 2 });
  for (let i = 0; i < 2; i++) {
    const res = await call(sim, 'GET', '/cluster/resources');
    assert.equal(res.status, 500);
    assert.equal(res.statusText, 'cfs-lock timeout');
    assert.deepEqual(res.json, { data: null, message: 'cfs-lock timeout' });
    assert.equal(res.headers['content-type'], 'application/json;charset=UTF-8');
  }
  assert.equal((await call(sim, 'GET', '/cluster/resources')).status, 200);
  sim.inject({ path: /\/status$/, status: 503 });
  const status = await call(sim, 'GET', '/nodes/pve1/status');
  assert.equal(status.statusText, 'Service Unavailable');
  sim.clearInjections();
  assert.equal((await call(sim, 'GET', '/nodes/pve1/status')).status, 200);
});

test('an injection does not hide invalid requests: validation runs first', async (t) => {
  const { sim } = await simFor(t);
  sim.inject({ path: /.*/, message: 'boom' });
  const res = await call(sim, 'GET', '/cluster/resources', { query: { bogus: 1 } });
  assert.equal(res.status, 400);
  assert.equal((await call(sim, 'GET', '/cluster/resources')).status, 500);
});

test('inject delays a call, or carries it out and then loses the answer', async (t) => {
  const { sim } = await simFor(t, { taskDelayMs: 0 });
  sim.inject({ path: '/version', delayMs: 150, times: 1 });
  const started = Date.now();
  assert.equal((await call(sim, 'GET', '/version')).status, 200);
  assert.ok(Date.now() - started >= 140);

  sim.inject({ method: 'POST', path: /\/snapshot$/, when: 'after', message: 'proxy error', times: 1 });
  const lost = await call(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: 'lost' } });
  assert.equal(lost.status, 500);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    sim.guest(101).snapshots.map((s) => s.name),
    ['lost'],
    'the snapshot was taken although the client saw an error',
  );

  sim.inject({ method: 'POST', path: /\/snapshot$/, drop: true, times: 1 });
  await assert.rejects(
    call(sim, 'POST', '/nodes/pve1/lxc/102/snapshot', { form: { snapname: 'gone' } }),
    /socket hang up|ECONNRESET/,
  );
  assert.deepEqual(
    sim.guest(102).snapshots.map((s) => s.name),
    [],
  );
  assert.equal(sim.requests.at(-1)?.statusText, 'dropped');
});

test('requests records method, path, query, body, status, auth and route of every call', async (t) => {
  const { sim } = await simFor(t, { taskDelayMs: 0 });
  await call(sim, 'GET', '/cluster/resources', { query: { type: 'vm' } });
  await call(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: 'r1', description: 'a b' } });
  assert.deepEqual(
    sim.requests.map(({ time: _t, auth: _a, ...r }) => r),
    [
      {
        method: 'GET',
        path: '/cluster/resources',
        query: { type: 'vm' },
        body: {},
        status: 200,
        apiStatus: 200,
        format: 'json',
        statusText: 'OK',
        authid: 'root@pam!pvepatch',
        route: '/cluster/resources',
      },
      {
        method: 'POST',
        path: '/nodes/pve1/lxc/101/snapshot',
        query: {},
        body: { snapname: 'r1', description: 'a b' },
        status: 200,
        apiStatus: 200,
        format: 'json',
        statusText: 'OK',
        authid: 'root@pam!pvepatch',
        route: '/nodes/{node}/lxc/{vmid}/snapshot',
      },
    ],
  );
  assert.equal(sim.requests.filter((r) => r.method === 'POST').length, 1);
  assert.ok(allValid(sim));
});

test('/cluster/resources has pools, guests, nodes, storage and sdn entries; the filter narrows it', async (t) => {
  const { sim } = await simFor(t);
  const all = await data<Entry[]>(sim, 'GET', '/cluster/resources');
  assert.deepEqual([...new Set(all.map((e) => e.type))], ['pool', 'lxc', 'qemu', 'node', 'storage', 'sdn']);
  assert.deepEqual(all[0], { id: '/pool/prod', pool: 'prod', type: 'pool' });
  const web = all.find((e) => e.id === 'lxc/101')!;
  assert.equal(web.tags, 'prod;web');
  assert.equal(web.pool, 'prod');
  assert.equal(web.template, 0);
  assert.equal(all.find((e) => e.id === 'lxc/900')?.template, 1);
  assert.equal(all.find((e) => e.id === 'lxc/103')?.node, 'pve2');
  assert.deepEqual(all.find((e) => e.id === 'node/pve2')?.status, 'online');
  const vms = await data<Entry[]>(sim, 'GET', '/cluster/resources', { query: { type: 'vm' } });
  assert.deepEqual(
    vms.map((e) => e.id),
    ['lxc/101', 'lxc/102', 'lxc/103', 'qemu/200', 'lxc/900'],
  );
});

test('setGuest changes what the API reports; guest() shows the state', async (t) => {
  const { sim } = await simFor(t);
  sim.setGuest(102, { status: 'running', lock: 'mounted', tags: ['db'] });
  const st = await data<Entry>(sim, 'GET', '/nodes/pve1/lxc/102/status/current');
  assert.equal(st.status, 'running');
  assert.equal(st.lock, 'mounted');
  assert.equal(st.tags, 'db');
  assert.equal(st.type, 'lxc');
  const conf = await data<Entry>(sim, 'GET', '/nodes/pve1/lxc/102/config');
  assert.equal(conf.ostype, 'alpine');
  assert.equal(conf.hostname, 'db');
  assert.equal(conf.lock, 'mounted');
  assert.match(String(conf.digest), /^[0-9a-f]{40}$/);
  const vm = await data<Entry>(sim, 'GET', '/nodes/pve1/qemu/200/status/current');
  assert.equal(vm.agent, 1);
  assert.equal(vm.qmpstatus, 'running');
  assert.equal(sim.guest(102).lock, 'mounted');
  assert.throws(() => sim.setGuest(102, { node: 'pve7' }), /unknown node/);
  const list = await data<Entry[]>(sim, 'GET', '/nodes/pve2/lxc');
  assert.deepEqual(
    list.map((g) => g.vmid),
    [103],
  );
  const nodes = await data<Entry[]>(sim, 'GET', '/nodes');
  assert.equal(nodes[0]?.ssl_fingerprint, sim.fingerprint);
});
