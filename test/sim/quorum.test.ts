import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simFor } from './fixture.js';
import { call, data } from './test-client.js';

type Entry = Record<string, unknown>;

test('without quorum /cluster/status says quorate 0 and every write fails as pmxcfs makes it; reads and logins work', async (t) => {
  const { sim } = await simFor(t);
  const quorate = async () =>
    (await data<Entry[]>(sim, 'GET', '/cluster/status')).find((e) => e.type === 'cluster')?.quorate;
  assert.equal(await quorate(), 1);
  sim.setQuorate(false);
  assert.equal(await quorate(), 0);
  const ha = await data<Entry[]>(sim, 'GET', '/cluster/ha/status/current');
  assert.equal(ha.find((e) => e.id === 'quorum')?.quorate, 0);
  const snap = await call(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: 'noquorum' } });
  assert.equal(snap.status, 500);
  assert.equal(snap.json?.message, 'cluster not ready - no quorum?');
  assert.equal((await call(sim, 'GET', '/nodes/pve1/lxc/101/snapshot')).status, 200);
  sim.setQuorate(true);
  assert.equal(await quorate(), 1);
  assert.equal((await call(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: 'back' } })).status, 200);
});
