import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simFor } from './fixture.js';
import { call, data } from './test-client.js';

/** The extjs format and the endpoints the web UI reads (ui-handlers.ts, summary-handlers.ts). */

test('extjs: always 200 OK; success 1 with data, or success 0 with message, status and errors', async (t) => {
  const { sim } = await simFor(t);
  const ok = await call(sim, 'GET', '/api2/extjs/version', { query: { _dc: 1796629714846 } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['content-type'], 'application/json;charset=UTF-8');
  assert.deepEqual(Object.keys(ok.json!).sort(), ['data', 'success']);
  assert.equal((ok.json as { success: number }).success, 1);

  const missing = await call(sim, 'GET', '/api2/extjs/nodes/pve1/lxc/999/config');
  assert.equal(missing.status, 200);
  assert.equal(missing.statusText, 'OK');
  assert.deepEqual(missing.json, {
    data: null,
    message: "Configuration file 'nodes/pve1/lxc/999.conf' does not exist\n",
    status: 500,
    success: 0,
  });

  const bad = await call(sim, 'GET', '/api2/extjs/cluster/resources', { query: { type: 'x' } });
  assert.equal(bad.status, 200);
  assert.equal((bad.json as { status: number; success: number }).success, 0);
  assert.equal((bad.json as { status: number }).status, 400);
  assert.ok(bad.json?.errors?.type);

  const none = await call(sim, 'GET', '/api2/extjs/nodes/pve1/foo');
  assert.equal((none.json as { status: number }).status, 501);
  // 401s are the auth step's, in every format (no login formatter for extjs)
  const noAuth = await call(sim, 'GET', '/api2/extjs/version', { auth: null });
  assert.equal(noAuth.status, 401);
  assert.deepEqual(
    sim.requests.map((r) => [r.format, r.status, r.apiStatus]),
    [
      ['extjs', 200, 200],
      ['extjs', 200, 500],
      ['extjs', 200, 400],
      ['extjs', 200, 501],
      ['extjs', 401, 401],
    ],
  );
  assert.deepEqual(sim.requests[0]!.query, { _dc: '1796629714846' }, 'recorded as sent, dropped before validation');
});

test('/access/domains needs no auth and lists pam and pve', async (t) => {
  const { sim } = await simFor(t);
  const res = await call(sim, 'GET', '/access/domains', { auth: null });
  assert.equal(res.status, 200);
  assert.deepEqual(
    (res.json!.data as Array<{ realm: string }>).map((d) => d.realm),
    ['pam', 'pve'],
  );
});

test('/cluster/options: allowed-tags of the guests the user may audit; /cluster/tasks of the user only', async (t) => {
  const { sim } = await simFor(t);
  sim.addUser('alice@pve', { password: 'pw' });
  sim.addRole('Audit', ['VM.Audit']);
  sim.setAcl({ path: '/vms/101', roles: ['Audit'], users: ['alice@pve'] });
  assert.deepEqual(await data(sim, 'GET', '/cluster/options'), { 'allowed-tags': ['prod', 'web'] });
  const { ticket } = sim.ticketFor('alice@pve');
  const auth = `PVEAuthCookie=${ticket}`;
  assert.deepEqual(await data(sim, 'GET', '/cluster/options', { auth }), { 'allowed-tags': ['prod', 'web'] });
  sim.setAcl({ path: '/vms/101', roles: ['NoAccess'], users: ['alice@pve'] });
  assert.deepEqual(await data(sim, 'GET', '/cluster/options', { auth }), { 'allowed-tags': [] });

  sim.startTask({ node: 'pve1', type: 'vzdump', user: 'root@pam' });
  sim.startTask({ node: 'pve1', type: 'vzdump', user: 'alice@pve' });
  const mine = await data<Array<{ user: string }>>(sim, 'GET', '/cluster/tasks', { auth });
  assert.deepEqual(
    mine.map((e) => e.user),
    ['alice@pve'],
  );
  assert.equal((await data<unknown[]>(sim, 'GET', '/cluster/tasks')).length, 2);
  const status = await call(sim, 'GET', '/cluster/status', { auth });
  assert.equal(status.status, 403);
  assert.equal(status.statusText, 'Permission check failed (/, Sys.Audit)');
});

test('cluster status, log, subscription and a node without Ceph answer as PVE does', async (t) => {
  const { sim } = await simFor(t);
  const status = await data<Array<Record<string, unknown>>>(sim, 'GET', '/cluster/status');
  assert.deepEqual(
    status.map((e) => e.id),
    ['cluster', 'node/pve1', 'node/pve2'],
  );
  assert.equal(status[1]!.local, 1);
  assert.deepEqual(
    status.slice(1).map((e) => e.ip),
    ['192.0.2.1', '192.0.2.2'],
  );

  const upid = sim.startTask({ node: 'pve1', type: 'vzdump', id: '101' });
  sim.finishTask(upid, 'OK');
  const log = await data<Array<Record<string, unknown>>>(sim, 'GET', '/cluster/log', { query: { max: 5 } });
  assert.deepEqual(
    log.map((e) => e.msg),
    [`end task ${upid} OK`, `starting task ${upid}`],
  );
  assert.equal(log[0]!.id, `${log[0]!.uid}:pve1`);

  const sub = await data<Record<string, unknown>>(sim, 'GET', '/nodes/localhost/subscription');
  assert.equal(sub.status, 'active');

  const ceph = await call(sim, 'GET', '/nodes/pve1/ceph/status');
  assert.equal(ceph.status, 500);
  assert.equal(ceph.statusText, 'binary not installed: /usr/bin/ceph-mon');
});

test('cluster status: node addresses from nodeIps; unknown nodes and non-addresses refused', async (t) => {
  const { sim } = await simFor(t, { nodeIps: { pve2: '127.0.0.1' } });
  const status = await data<Array<Record<string, unknown>>>(sim, 'GET', '/cluster/status');
  assert.deepEqual(
    status.slice(1).map((e) => [e.name, e.ip]),
    [
      ['pve1', '192.0.2.1'],
      ['pve2', '127.0.0.1'],
    ],
  );
  await assert.rejects(simFor(t, { nodeIps: { pve3: '127.0.0.1' } }), /nodeIps names unknown node 'pve3'/);
  await assert.rejects(simFor(t, { nodeIps: { pve1: 'pve1.example' } }), /nodeIps.pve1 is not an IP address/);
});

test('rrddata: 60 one-minute rows, oldest first; lxc interfaces; VM agent interfaces; apt repositories', async (t) => {
  const { sim } = await simFor(t, { subscription: 'notfound' });
  const rows = await data<Array<{ time: number }>>(sim, 'GET', '/nodes/pve1/rrddata', {
    query: { timeframe: 'hour', cf: 'AVERAGE' },
  });
  assert.equal(rows.length, 60);
  assert.equal(rows[1]!.time - rows[0]!.time, 60);
  const ct = await data<unknown[]>(sim, 'GET', '/nodes/pve1/lxc/101/rrddata', { query: { timeframe: 'day' } });
  assert.equal(ct.length, 1440);
  const ifaces = await data<Array<{ name: string; hwaddr: string }>>(sim, 'GET', '/nodes/pve1/lxc/101/interfaces');
  assert.deepEqual(
    ifaces.map((i) => i.name),
    ['lo', 'eth0'],
  );
  assert.equal(ifaces[1]!.hwaddr, 'bc:24:11:00:00:65');
  assert.equal(await data(sim, 'GET', '/nodes/pve1/lxc/102/interfaces'), null, 'a stopped CT');
  const agent = await data<{ result: unknown[] }>(sim, 'GET', '/nodes/pve1/qemu/200/agent/network-get-interfaces');
  assert.equal(agent.result.length, 2);
  const repos = await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve1/apt/repositories');
  assert.ok(Array.isArray(repos['standard-repos']));
  const sub = await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve2/subscription');
  assert.equal(sub.status, 'notfound');
  assert.equal(sub.message, 'There is no subscription key');
});
