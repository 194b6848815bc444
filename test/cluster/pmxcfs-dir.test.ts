import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PmxcfsDir } from './pmxcfs-dir.js';

describe('pmxcfs double', () => {
  it('judges lock expiry by one clock, only on request, and keeps refreshes to the writer', async () => {
    let now = 1_000_000;
    const cfs = await PmxcfsDir.create({ expirySeconds: 120, now: () => now });
    try {
      const lock = join(cfs.root, 'priv', 'lock', 'x');
      const n1 = cfs.nodeFs('pve1', 1);
      const n2 = cfs.nodeFs('pve2', 2);
      await n1.mkdir(lock);
      await assert.rejects(n2.mkdir(lock), { code: 'EEXIST' });
      await assert.rejects(n2.utimes(lock, 0, 0), { code: 'EACCES' }, 'unlock request on a live lock');
      await assert.rejects(
        n2.utimes(lock, 0, Math.floor(now / 1000) + 1),
        { code: 'EACCES' },
        'refresh by another node',
      );
      await assert.rejects(n1.rename(lock, `${lock}2`), { code: 'EACCES' });
      now += 100_000;
      await n1.utimes(lock, 0, Math.floor(now / 1000)); // refresh resets the judge's timer
      now += 100_000;
      assert.deepEqual(await cfs.sweepExpiredLocks(), []);
      now += 21_000;
      await stat(lock); // expired but still there: nobody asked
      await assert.rejects(n2.utimes(lock, 0, 0), { code: 'ENOENT' }, 'unlock request removes an expired lock');
      await assert.rejects(stat(lock), { code: 'ENOENT' });
      await n2.mkdir(lock);
      assert.equal(cfs.lockWriter('x'), 2);
      now += 121_000;
      assert.deepEqual(await cfs.sweepExpiredLocks(), ['x']);
      cfs.setQuorate(false);
      await assert.rejects(n1.mkdir(lock), { code: 'EACCES' });
    } finally {
      await cfs.cleanup();
    }
  });
});
