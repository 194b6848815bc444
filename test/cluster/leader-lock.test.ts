import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ClusterFs } from '../../daemon/cluster/cluster-fs.js';
import { LeaderLock, type LeaderLockOptions, readLeaderRecord } from '../../daemon/cluster/leader-lock.js';
import { writeSharedJson } from '../../daemon/cluster/shared-file.js';
import { PmxcfsDir } from './pmxcfs-dir.js';

const EXPIRY_S = 2;
const REFRESH_S = 0.25;
const RETRY_S = 0.05;
const NODE_IDS: Record<string, number> = { pve1: 1, pve2: 2 };

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LeaderLock on a pmxcfs double', () => {
  let cfs: PmxcfsDir;
  let runBase: string;
  const locks: LeaderLock[] = [];

  beforeEach(async () => {
    cfs = await PmxcfsDir.create({ expirySeconds: EXPIRY_S });
    runBase = await mkdtemp(join(tmpdir(), 'pvepatch-run-'));
  });
  afterEach(async () => {
    for (const l of locks.splice(0)) await l.release();
    await cfs.cleanup();
    await rm(runBase, { recursive: true, force: true });
  });

  function lockFor(node: string, extra: Partial<LeaderLockOptions> = {}): LeaderLock {
    const l = new LeaderLock({
      clusterDir: cfs.root,
      node,
      runDir: join(runBase, extra.runDir ?? node),
      expirySeconds: EXPIRY_S,
      refreshSeconds: REFRESH_S,
      retrySeconds: RETRY_S,
      fs: cfs.nodeFs(node, NODE_IDS[node]!),
      ...extra,
    });
    locks.push(l);
    return l;
  }

  async function runDirs(...nodes: string[]): Promise<void> {
    for (const n of nodes) await mkdir(join(runBase, n), { recursive: true });
  }

  function lostPromise(l: LeaderLock): Promise<{ reason: string; at: number }> {
    return new Promise((resolve) => l.on('lost', (reason) => resolve({ reason, at: Date.now() })));
  }

  it('refuses a refresh interval that is not shorter than the expiry', () => {
    assert.throws(
      () => new LeaderLock({ clusterDir: '/x', node: 'pve1', runDir: '/x', expirySeconds: 2, refreshSeconds: 2 }),
      /refreshSeconds \(2\) must be shorter than expirySeconds \(2\)/,
    );
    assert.throws(() => new LeaderLock({ clusterDir: '/x', node: '../x', runDir: '/x' }), /invalid node name/);
  });

  it('lets only one node hold it; refreshes keep it against unlock requests past the expiry', async () => {
    await runDirs('pve1', 'pve2');
    const pve1 = lockFor('pve1');
    const pve2 = lockFor('pve2');
    await pve1.acquire();
    assert.equal(pve1.isHeld(), true);
    assert.equal(cfs.lockWriter('pvepatch-leader'), 1);
    assert.equal((await readLeaderRecord(cfs.root))?.node, 'pve1');
    const t0 = Date.now();
    // pve2 sends an unlock request every 50 ms for 1.25 x the expiry.
    await assert.rejects(pve2.acquire(AbortSignal.timeout(EXPIRY_S * 1250)), (err: Error) => {
      assert.match(err.message, /gave up waiting \(last taken by node 'pve1'\)/);
      return true;
    });
    assert.ok(Date.now() - t0 >= EXPIRY_S * 1000);
    assert.equal(pve1.isHeld(), true);
    assert.equal(pve2.isHeld(), false);
    assert.equal(cfs.lockWriter('pvepatch-leader'), 1);
  });

  it('is taken over by another node only after a dead holder’s lock expired', async () => {
    await runDirs('pve2');
    // A pvepatch on pve1 took the lock and died: the directory stays, nobody refreshes it.
    await cfs.nodeFs('pve1', 1).mkdir(join(cfs.root, 'priv', 'lock', 'pvepatch-leader'));
    const t0 = Date.now();
    const pve2 = lockFor('pve2');
    await pve2.acquire(AbortSignal.timeout(EXPIRY_S * 1000 + 2000));
    const waited = Date.now() - t0;
    assert.ok(waited >= EXPIRY_S * 1000, `took over after ${waited} ms`);
    assert.ok(waited < EXPIRY_S * 1000 + 1000, `took over after ${waited} ms`);
    assert.equal(cfs.lockWriter('pvepatch-leader'), 2);
  });

  it('a frozen holder loses it to the other node, and its next refresh fires lost', async () => {
    await runDirs('pve1', 'pve2');
    let thaw: () => void = () => undefined;
    const frozen = new Promise<void>((r) => {
      thaw = r;
    });
    let freeze = false;
    const base = cfs.nodeFs('pve1', 1);
    const fs: ClusterFs = {
      ...base,
      utimes: async (p, a, m) => {
        if (freeze) await frozen;
        return base.utimes(p, a, m);
      },
    };
    const pve1 = lockFor('pve1', { fs });
    await pve1.acquire();
    const lost = lostPromise(pve1);
    freeze = true;
    const pve2 = lockFor('pve2');
    await pve2.acquire(AbortSignal.timeout(EXPIRY_S * 1000 + 2000));
    assert.equal(cfs.lockWriter('pvepatch-leader'), 2);
    freeze = false;
    thaw();
    const { reason } = await lost;
    assert.match(reason, /pmxcfs refused the refresh - another node holds the lock now/);
    assert.equal(pve1.isHeld(), false);
    assert.equal(pve2.isHeld(), true);
  });

  it('fires lost within one refresh interval when the directory is removed', async () => {
    await runDirs('pve1');
    const pve1 = lockFor('pve1');
    await pve1.acquire();
    const lost = lostPromise(pve1);
    await cfs.nodeFs('pve2', 2).rmdir(join(cfs.root, 'priv', 'lock', 'pvepatch-leader'));
    const t0 = Date.now();
    const { reason, at } = await lost;
    assert.ok(at - t0 <= REFRESH_S * 1000 + 100, `lost after ${at - t0} ms`);
    assert.match(reason, /is gone - it expired and was removed/);
    assert.equal(pve1.isHeld(), false);
  });

  it('fires lost within one refresh interval when pmxcfs loses quorum, and at once when told', async () => {
    await runDirs('pve1');
    const pve1 = lockFor('pve1');
    await pve1.acquire();
    let lost = lostPromise(pve1);
    cfs.setQuorate(false);
    const t0 = Date.now();
    const first = await lost;
    assert.ok(first.at - t0 <= REFRESH_S * 1000 + 100, `lost after ${first.at - t0} ms`);
    assert.match(first.reason, /refused the refresh .* or this node has no quorum/);

    // Quorum back: pmxcfs still has pve1's lock, which pve1 may take back at once.
    cfs.setQuorate(true);
    await pve1.acquire(AbortSignal.timeout(1000));
    assert.equal(pve1.isHeld(), true);
    lost = lostPromise(pve1);
    let fired = false;
    void lost.then(() => {
      fired = true;
    });
    pve1.setQuorate(false);
    await Promise.resolve();
    assert.equal(fired, true, 'lost fires synchronously');
    assert.equal(pve1.isHeld(), false);
    await assert.rejects(pve1.acquire(AbortSignal.timeout(200)), /gave up waiting/);
  });

  it('release lets the other node take it at once', async () => {
    await runDirs('pve1', 'pve2');
    const pve1 = lockFor('pve1');
    const pve2 = lockFor('pve2');
    await pve1.acquire();
    const waiting = pve2.acquire(AbortSignal.timeout(EXPIRY_S * 1000));
    await delay(100);
    const t0 = Date.now();
    await pve1.release();
    await waiting;
    assert.ok(Date.now() - t0 < 300, `took ${Date.now() - t0} ms`);
    assert.equal(pve2.isHeld(), true);
    assert.equal((await readLeaderRecord(cfs.root))?.node, 'pve2');
  });

  it('belongs to the node: a restarted process on the holder takes it back, another node cannot', async () => {
    await runDirs('pve1', 'pve2');
    // pve1's earlier process: created the lock, wrote the record, then exited without release.
    await cfs.nodeFs('pve1', 1).mkdir(join(cfs.root, 'priv', 'lock', 'pvepatch-leader'));
    await writeSharedJson(join(cfs.root, 'pvepatch', 'leader.json'), {
      node: 'pve1',
      pid: 1,
      acquiredAt: new Date().toISOString(),
    });
    const pve2 = lockFor('pve2');
    await assert.rejects(pve2.acquire(AbortSignal.timeout(300)), /gave up waiting/);
    const pve1 = lockFor('pve1');
    const t0 = Date.now();
    await pve1.acquire(AbortSignal.timeout(1000));
    assert.ok(Date.now() - t0 < 200);
    assert.equal(cfs.lockWriter('pvepatch-leader'), 1);
  });

  it('allows one contender per node: a second lock with the same run dir waits for the first', async () => {
    await runDirs('pve1');
    const a = lockFor('pve1');
    const b = lockFor('pve1');
    await a.acquire();
    await assert.rejects(b.acquire(AbortSignal.timeout(200)), /gave up waiting/);
    await a.release();
    await b.acquire(AbortSignal.timeout(500));
    assert.equal(b.isHeld(), true);
  });
});
