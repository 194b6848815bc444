import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { quorumFromClusterStatus, quorumFromLocalDir } from '../../daemon/cluster/quorum.js';
import { PmxcfsDir } from './pmxcfs-dir.js';

describe('quorumFromClusterStatus', () => {
  it('reads the cluster entry and counts a standalone node as quorate', () => {
    const node = { type: 'node', name: 'pve1', online: 1, local: 1 };
    assert.equal(quorumFromClusterStatus([{ type: 'cluster', name: 'c', quorate: 1, nodes: 3 }, node]), true);
    assert.equal(quorumFromClusterStatus([{ type: 'cluster', name: 'c', quorate: 0, nodes: 3 }, node]), false);
    assert.equal(quorumFromClusterStatus([{ type: 'cluster', name: 'c' }, node]), false);
    assert.equal(quorumFromClusterStatus([node]), true);
  });

  it('answers false for anything it cannot read, and never throws', () => {
    for (const v of [undefined, null, 'x', 42, {}, [], [null], [{ type: 'cluster', quorate: 'yes' }]]) {
      assert.equal(quorumFromClusterStatus(v), false, JSON.stringify(v));
    }
  });
});

describe('quorumFromLocalDir', () => {
  it('reads the mode of <cluster_dir>/local on a plain directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pvepatch-quorum-'));
    try {
      assert.equal(await quorumFromLocalDir(dir), false, 'missing local: pmxcfs not mounted');
      await mkdir(join(dir, 'nodes', 'pve1'), { recursive: true });
      await symlink('nodes/pve1', join(dir, 'local'));
      assert.equal(await quorumFromLocalDir(dir), true);
      await rm(join(dir, 'local'));
      await mkdir(join(dir, 'local'));
      await chmod(join(dir, 'local'), 0o555);
      assert.equal(await quorumFromLocalDir(dir), false, 'read-only local');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('follows the quorum switch of the pmxcfs double', async () => {
    const cfs = await PmxcfsDir.create();
    try {
      const fs = cfs.nodeFs('pve1', 1);
      assert.equal(await quorumFromLocalDir(cfs.root, fs), true);
      cfs.setQuorate(false);
      assert.equal(await quorumFromLocalDir(cfs.root, fs), false);
    } finally {
      await cfs.cleanup();
    }
  });
});
