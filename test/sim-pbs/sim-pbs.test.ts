import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { type PbsSim, type PbsTask, startPbsSim } from './server.js';
import { escapeWorkerId, makePbsTask } from './upid.js';

const TOKEN = { id: 'root@pam!pvepatch', secret: 'c0ffee00-1111-2222-3333-444455556666' };
const HEADER = `PBSAPIToken=${TOKEN.id}:${TOKEN.secret}`;

interface Res {
  status: number;
  type: string | undefined;
  text: string;
}

function get(sim: PbsSim, path: string, auth: string | null = HEADER, cookie?: string): Promise<Res> {
  const headers: Record<string, string> = {};
  if (auth !== null) headers.Authorization = auth;
  if (cookie) headers.Cookie = cookie;
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, sim.url), { headers, ca: sim.certPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: res.headers['content-type'],
          text: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const backup = makePbsTask({
  workerType: 'backup',
  workerId: 'store1:vm/100',
  authId: 'root@pam!pve',
  starttime: 1_700_000_000,
});
const gc = makePbsTask({
  workerType: 'garbage_collection',
  workerId: 'store1',
  pid: 4243,
  taskId: 1,
  starttime: 1_700_000_100,
});
const done = makePbsTask({
  workerType: 'verify',
  workerId: null,
  starttime: 1_699_000_000,
  endtime: 1_699_000_050,
  status: 'OK',
});

describe('PBS API simulator', () => {
  let sim: PbsSim;
  before(async () => {
    sim = await startPbsSim({ tokens: [TOKEN] });
  });
  after(async () => {
    await sim?.close();
  });

  test('version answers with data as PBS 3.4.1 does', async () => {
    const res = await get(sim, '/api2/json/version');
    assert.equal(res.status, 200);
    assert.equal(res.type, 'application/json;charset=UTF-8');
    assert.equal(JSON.parse(res.text).data.version, '3.4');
    assert.equal(JSON.parse(res.text).data.release, '1');
  });

  test('the token header takes PBS’s colon (and a space after the prefix); PVE’s = form and wrong secrets get 401', async () => {
    assert.equal((await get(sim, '/api2/json/version', `PBSAPIToken ${TOKEN.id}:${TOKEN.secret}`)).status, 200);
    const cases = [
      null,
      `PBSAPIToken=${TOKEN.id}=${TOKEN.secret}`,
      `PVEAPIToken=${TOKEN.id}=${TOKEN.secret}`,
      `PBSAPIToken=${TOKEN.id}:wrong`,
      `PBSAPIToken=root@pam!other:${TOKEN.secret}`,
      `PBSAPITokenX${TOKEN.id}:${TOKEN.secret}`,
    ];
    for (const auth of cases) {
      assert.deepEqual(await get(sim, '/api2/json/version', auth), {
        status: 401,
        type: 'application/json;charset=UTF-8',
        text: 'authentication failed',
      });
    }
    // a PBSAuthCookie wins over the header, and tickets are not simulated
    assert.equal((await get(sim, '/api2/json/version', HEADER, 'PBSAuthCookie=PBS:root@pam:1234')).status, 401);
    // auth comes before routing: an unknown path without credentials is 401, with them 404
    assert.equal((await get(sim, '/api2/json/nope', null)).status, 401);
    assert.deepEqual(await get(sim, '/api2/json/nope'), {
      status: 404,
      type: 'application/json;charset=UTF-8',
      text: "Path '/api2/json/nope' not found.",
    });
  });

  test('running=1 lists the injected running tasks with total; without it finished ones follow', async () => {
    sim.setRunningTasks([backup, gc]);
    sim.setFinishedTasks([done]);
    const running = JSON.parse((await get(sim, '/api2/json/nodes/localhost/tasks?running=1')).text) as {
      data: PbsTask[];
    };
    assert.deepEqual(running, { data: [backup, gc], total: 2 });
    assert.equal(
      running.data[0]?.upid,
      `UPID:pbs:00001092:0001E240:00000000:6553F100:backup:store1\\x3avm-100:root@pam!pve:`,
    );
    assert.equal(running.data[0]?.worker_id, 'store1:vm/100');
    const all = JSON.parse((await get(sim, '/api2/json/nodes/localhost/tasks?limit=2&start=0')).text);
    assert.deepEqual(all, { data: [backup, gc], total: 3 }); // a full page adds one 'virtual' entry
    const rest = JSON.parse((await get(sim, '/api2/json/nodes/localhost/tasks?limit=2&start=2')).text);
    assert.deepEqual(rest, { data: [done], total: 3 });
    assert.equal(JSON.parse((await get(sim, '/api2/json/nodes/localhost/tasks?limit=0')).text).data.length, 3);
    const typed = JSON.parse((await get(sim, '/api2/json/nodes/localhost/tasks?typefilter=garbage')).text);
    assert.deepEqual(typed.data, [gc]);
    sim.setRunningTasks([]);
    assert.deepEqual(JSON.parse((await get(sim, '/api2/json/nodes/pbs/tasks?running=true')).text), {
      data: [],
      total: 0,
    });
  });

  test('task status: running, stopped with its exit status, unknown UPIDs', async () => {
    sim.setRunningTasks([backup]);
    sim.setFinishedTasks([done]);
    const status = async (upid: string) =>
      JSON.parse((await get(sim, `/api2/json/nodes/localhost/tasks/${encodeURIComponent(upid)}/status`)).text).data;
    assert.deepEqual(await status(backup.upid), {
      upid: backup.upid,
      node: 'pbs',
      pid: 4242,
      pstart: 123_456,
      starttime: 1_700_000_000,
      type: 'backup',
      id: 'store1:vm/100',
      user: 'root@pam',
      tokenid: 'pve',
      status: 'running',
    });
    assert.equal((await status(done.upid)).exitstatus, 'OK');
    const unknown = makePbsTask({ workerType: 'sync', workerId: 'job1', pid: 1 });
    assert.deepEqual(
      [(await status(unknown.upid)).status, (await status(unknown.upid)).exitstatus],
      ['stopped', 'unknown'],
    );
  });

  test('bad parameters get PBS’s 400 texts; every request is logged', async () => {
    const bad = await get(sim, '/api2/json/nodes/localhost/tasks?running=maybe');
    assert.deepEqual(
      [bad.status, bad.text],
      [400, "parameter verification failed - 'running': Unable to parse boolean option."],
    );
    const extra = await get(sim, '/api2/json/nodes/localhost/tasks?foo=1');
    assert.deepEqual(
      [extra.status, extra.text],
      [400, "parameter verification failed - 'foo': schema does not allow additional properties."],
    );
    const neg = await get(sim, '/api2/json/nodes/localhost/tasks?limit=-1');
    assert.equal(neg.status, 400);
    const last = sim.requests.at(-1);
    assert.deepEqual(last, {
      method: 'GET',
      path: '/api2/json/nodes/localhost/tasks',
      query: { limit: '-1' },
      tokenId: TOKEN.id,
      status: 400,
    });
  });

  test('snapshots: one group of a datastore, filtered; unknown parameters and datastores are refused', async () => {
    sim.setSnapshots([
      { store: 'store1', type: 'ct', id: '101', time: 1_700_000_000, verification: 'ok', size: 42 },
      { store: 'store1', type: 'ct', id: '101', time: 1_700_086_400 },
      { store: 'store1', type: 'vm', id: '101', time: 1_700_000_000 },
      { store: 'store1', ns: 'site1', type: 'ct', id: '101', time: 1_700_000_000 },
    ]);
    const base = '/api2/json/admin/datastore/store1/snapshots';
    const res = await get(sim, `${base}?backup-type=ct&backup-id=101`);
    assert.equal(res.status, 200);
    const data = (JSON.parse(res.text) as { data: Record<string, unknown>[] }).data;
    assert.deepEqual(
      data.map((x) => [
        x['backup-type'],
        x['backup-id'],
        x['backup-time'],
        x.size,
        (x.verification as { state?: string })?.state,
      ]),
      [
        ['ct', '101', 1_700_000_000, 42, 'ok'],
        ['ct', '101', 1_700_086_400, undefined, undefined],
      ],
    );
    assert.match(
      String((data[0]!.verification as { upid: string }).upid),
      /^UPID:pbs:.*:verify_snapshot:store1\\x3act-101-/,
    );
    const ns = JSON.parse((await get(sim, `${base}?backup-type=ct&backup-id=101&ns=site1`)).text) as {
      data: unknown[];
    };
    assert.equal(ns.data.length, 1);
    const extra = await get(sim, `${base}?backup-type=ct&backup-id=101&limit=1`);
    assert.deepEqual(
      [extra.status, extra.text],
      [400, "parameter verification failed - 'limit': schema does not allow additional properties."],
    );
    assert.equal((await get(sim, `${base}?backup-type=lxc`)).status, 400);
    const missing = await get(sim, '/api2/json/admin/datastore/nostore/snapshots');
    assert.deepEqual([missing.status, missing.text], [400, "no such datastore 'nostore'"]);
    assert.equal((await get(sim, base, null)).status, 401);
  });

  test('escapeWorkerId follows proxmox-schema', () => {
    assert.equal(escapeWorkerId('store1:ct/101'), 'store1\\x3act-101');
    assert.equal(escapeWorkerId('.hidden-x'), '\\x2ehidden\\x2dx');
  });
});
