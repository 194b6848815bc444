import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../daemon/cli/api-client.js';
import type { RunReport } from '../../daemon/engine/types.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import { type PbsSim, startPbsSim } from '../sim-pbs/server.js';
import { type Env, startEnv, versions } from './harness.js';

const all10 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.0']));
const all11 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.1']));
const TOKEN = { id: 'pvepatch@pbs!audit', secret: '5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b' };
const HOUR = 3600;

/** `fallback backup`: a guest that cannot be snapshotted is patched only with a recent backup listed by PBS. */
describe('fallback backup: a recent PBS backup protects a guest without snapshots', () => {
  let env: Env;
  let pbs: PbsSim;
  let api: ApiClient;
  const now = () => Math.floor(Date.now() / 1000);
  const run = async () => {
    const r = await env.cli('--output-format', 'json', 'run', '131');
    const report = JSON.parse(r.out) as RunReport;
    return { code: r.code, err: r.err, id: report.id, g: report.guests[0]! };
  };
  const pbsConfig = () => ({
    pbs_url: pbs.url,
    pbs_token: `${TOKEN.id}:${TOKEN.secret}`,
    pbs_fingerprint: pbs.fingerprint,
    pbs_datastore: 'store1',
  });

  before(async () => {
    pbs = await startPbsSim({ tokens: [TOKEN], datastores: ['store1'] });
    env = await startEnv({ guests: [{ vmid: 131 }], config: pbsConfig(), policy: 'guest: 131\n\tfallback backup\n' });
    env.sim.failSnapshots(131, 'snapshot feature is not available');
    api = new ApiClient(join(env.dir, 'run', 'api.sock'));
  });
  after(async () => {
    await env?.close();
    await pbs?.close();
  });

  it('refuses when the newest backup is older than backup-max-age, naming it; a failed verification does not count', async () => {
    const old = now() - 72 * HOUR;
    pbs.setSnapshots([
      { store: 'store1', type: 'ct', id: '131', time: old, verification: 'ok' },
      { store: 'store1', type: 'ct', id: '131', time: now() - HOUR, verification: 'failed' },
      { store: 'store1', type: 'vm', id: '131', time: now() - HOUR },
      { store: 'store1', type: 'ct', id: '1310', time: now() - HOUR },
    ]);
    const { code, g } = await run();
    assert.equal(code, 5);
    assert.equal(g.outcome, 'refused');
    const newest = new Date(old * 1000).toISOString().slice(0, 16).replace('T', ' ');
    assert.match(
      g.reason ?? '',
      new RegExp(
        `no backup of CT 131 on PBS datastore 'store1' newer than 24 h \\(newest: ${newest} UTC; 1 failing verification not counted\\) - run a backup first or change fallback`,
      ),
    );
    const q = pbs.requests.at(-1);
    assert.equal(q?.path, '/api2/json/admin/datastore/store1/snapshots');
    assert.deepEqual(q?.query, { 'backup-type': 'ct', 'backup-id': '131' });
    assert.equal(q?.tokenId, TOKEN.id);
    assert.deepEqual(await versions(env.lab, 131, DEMO_PACKAGE_NAMES), all10);
  });

  it('refuses when PBS cannot be reached, saying so', async () => {
    await env.restartDaemon({ pbs_url: 'https://127.0.0.1:1' });
    try {
      const { code, g } = await run();
      assert.equal(code, 5);
      assert.equal(g.outcome, 'refused');
      assert.match(
        g.reason ?? '',
        /fallback backup cannot tell whether a recent backup exists - unable to reach PBS API https:\/\/127\.0\.0\.1:1\//,
      );
      assert.deepEqual(await versions(env.lab, 131, DEMO_PACKAGE_NAMES), all10);
    } finally {
      await env.restartDaemon({ pbs_url: pbs.url });
    }
  });

  it('records a reported backup result and lists it; a bad one is a 400 saying what is wrong', async () => {
    const at = new Date(Date.now() - 2 * HOUR * 1000).toISOString();
    const body = { target: 'ct131', vmid: 131, job_id: 'job-7', success: true, warnings: 0, at };
    const rec = await api.post<{ vmid: number; received_at: string }>('/backups/result', body);
    assert.equal(rec.vmid, 131);
    const list = await api.get<{ job_id: string; at: string }[]>('/backups', { vmid: 131 });
    assert.deepEqual(
      list.map((x) => [x.job_id, x.at]),
      [['job-7', at]],
    );
    assert.deepEqual(await api.get('/backups', { vmid: 132 }), []);
    await assert.rejects(api.post('/backups/result', { ...body, vmid: 'x', warnings: -1 }), (err: Error) => {
      assert.equal((err as Error & { code: string }).code, 'input-invalid');
      assert.match(err.message, /invalid request - vmid: .*; warnings: /);
      return true;
    });
    await assert.rejects(api.post('/backups/result', { ...body, at: 'yesterday' }), /at: /);
  });

  it('patches with a backup newer than backup-max-age and reports which one', async () => {
    const fresh = now() - 2 * HOUR;
    pbs.setSnapshots([
      { store: 'store1', type: 'ct', id: '131', time: now() - 72 * HOUR, verification: 'ok' },
      { store: 'store1', type: 'ct', id: '131', time: fresh },
    ]);
    const { code, err, id, g } = await run();
    assert.equal(code, 0, `${err} ${g.reason}`);
    assert.equal(g.outcome, 'updated');
    assert.equal(g.protection, 'backup');
    const log = (await env.cli('log', id)).out;
    assert.match(
      log,
      /protected by the backup ct\/131\/\S+ on PBS datastore 'store1' \(2 h old, not verified, limit 24 h\)/,
    );
    assert.match(log, /PBS Plus reported a successful backup at \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    const stamp = new Date(fresh * 1000).toISOString();
    assert.equal(g.pbs_backup?.time, stamp);
    assert.equal(g.pbs_backup?.id, `ct/131/${stamp.replace('.000Z', 'Z')}`);
    assert.equal(g.pbs_backup?.datastore, 'store1');
    assert.equal(g.pbs_backup?.verification, null);
    assert.ok(g.pbs_backup?.reported_at, 'the PBS Plus result is shown beside it');
    assert.deepEqual(await versions(env.lab, 131, DEMO_PACKAGE_NAMES), all11);
  });
});
