import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pbsSnapshots } from '../../daemon/pbs/api.js';
import { snapshotItems } from '../../daemon/pbs/parse.js';
import { type PbsSim, startPbsSim } from '../sim-pbs/server.js';

const TOKEN = { id: 'pvepatch@pbs!audit', secret: 'a1b2c3d4-0000-4000-8000-00000000abcd' };

describe('PBS snapshot list (fallback backup)', () => {
  let sim: PbsSim;
  const api = () => ({ url: sim.url, tokenId: TOKEN.id, secret: TOKEN.secret, fingerprint: sim.fingerprint });
  before(async () => {
    sim = await startPbsSim({
      tokens: [TOKEN],
      snapshots: [
        { store: 'store1', type: 'vm', id: '200', time: 1_765_000_000, verification: 'failed' },
        { store: 'store1', ns: 'site1/pve', type: 'vm', id: '200', time: 1_765_100_000, verification: 'ok' },
      ],
    });
  });
  after(async () => {
    await sim?.close();
  });

  it('asks for one group (and namespace) and returns type, id, time and verification', async () => {
    assert.deepEqual(await pbsSnapshots(api(), { store: 'store1', ns: '', type: 'vm', id: '200' }), [
      { type: 'vm', id: '200', time: 1_765_000_000, verification: 'failed' },
    ]);
    assert.deepEqual(await pbsSnapshots(api(), { store: 'store1', ns: 'site1/pve', type: 'vm', id: '200' }), [
      { type: 'vm', id: '200', time: 1_765_100_000, verification: 'ok' },
    ]);
    assert.deepEqual(sim.requests.at(-1)?.query, { 'backup-type': 'vm', 'backup-id': '200', ns: 'site1/pve' });
  });

  it('says what went wrong: unknown datastore, wrong secret, wrong certificate', async () => {
    await assert.rejects(pbsSnapshots(api(), { store: 'nostore', ns: '', type: 'ct', id: '1' }), {
      code: 'proxmox-error',
      message: /400 no such datastore 'nostore'/,
    });
    await assert.rejects(
      pbsSnapshots({ ...api(), secret: 'wrong' }, { store: 'store1', ns: '', type: 'ct', id: '1' }),
      {
        code: 'auth-failed',
      },
    );
    const pin = sim.fingerprint.replace(/^../, sim.fingerprint.startsWith('00') ? '11' : '00');
    await assert.rejects(
      pbsSnapshots({ ...api(), fingerprint: pin }, { store: 'store1', ns: '', type: 'ct', id: '1' }),
      (err: Error & { code: string }) => err.code === 'tls-failed',
    );
  });

  it('drops entries without the shape (they only make a guest look less protected) and refuses a non-list', () => {
    const items = snapshotItems([
      { 'backup-type': 'ct', 'backup-id': '1', 'backup-time': 5, files: [], future: { x: 1 } },
      { 'backup-type': 'ct', 'backup-id': '1', 'backup-time': '6' },
      { 'backup-type': 'ct', 'backup-id': '1', 'backup-time': 7, verification: { state: 'ok', upid: 'UPID:…' } },
      null,
    ]);
    assert.deepEqual(items, [
      { type: 'ct', id: '1', time: 5, verification: null },
      { type: 'ct', id: '1', time: 7, verification: 'ok' },
    ]);
    assert.equal(snapshotItems({ data: [] }), null);
  });
});
