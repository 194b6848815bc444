import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type Cluster, startCluster, waitFor } from './cluster-harness.js';

/** Runs a node's pct; its exit code, stdout and stderr. */
function pct(path: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(path, argv, { timeout: 15_000 }, (err, out, errText) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, out, err: errText });
    });
  });
}

/** The cluster harness itself: two nodes, each with its own pct and daemon, one shared lab and simulator. */
describe('cluster harness', () => {
  let cluster: Cluster | undefined;
  before(async () => {
    cluster = await startCluster({
      nodes: { pve1: [{ vmid: 201, hostname: 'ct201' }], pve2: [{ vmid: 301, hostname: 'ct301' }] },
    });
  });
  after(async () => {
    await cluster?.close();
  });

  it("each node's pct enters its own containers and refuses the other node's as pct does", async () => {
    const { pve1, pve2 } = cluster!.nodes;
    assert.deepEqual(await pct(pve1!.pctPath, 'exec', '201', '--', 'cat', '/etc/hostname'), {
      code: 0,
      out: 'ct201\n',
      err: '',
    });
    assert.deepEqual(await pct(pve2!.pctPath, 'exec', '301', '--', 'cat', '/etc/hostname'), {
      code: 0,
      out: 'ct301\n',
      err: '',
    });
    assert.deepEqual(await pct(pve1!.pctPath, 'exec', '301', '--', 'true'), {
      code: 255,
      out: '',
      err: "Configuration file 'nodes/pve1/lxc/301.conf' does not exist\n",
    });
    assert.deepEqual(await pct(pve2!.pctPath, 'status', '201'), {
      code: 255,
      out: '',
      err: "Configuration file 'nodes/pve2/lxc/201.conf' does not exist\n",
    });
    assert.equal((await pct(pve2!.pctPath, 'status', '301')).out, 'status: running\n');
  });

  it('both daemons run and answer the CLI', async () => {
    for (const n of Object.values(cluster!.nodes)) {
      assert.ok(n.running(), `${n.node} runs`);
      await waitFor(() => n.log().some((l) => l.includes(' listening on ')), 5_000, `${n.node} listening`);
      const r = await n.cli('guests');
      assert.equal(r.code, 0, `${n.node}: ${r.err}\n${n.log().join('\n')}`);
    }
  });

  it('waitFor names what it waited for', async () => {
    await assert.rejects(
      waitFor(() => false, 100, 'nothing'),
      /timed out after 100 ms waiting for nothing/,
    );
  });

  it('close() stops the daemons and removes everything', async () => {
    const c = cluster!;
    cluster = undefined;
    await c.close();
    for (const n of Object.values(c.nodes)) assert.ok(!n.running(), `${n.node} stopped`);
    assert.ok(!existsSync(c.dir), `${c.dir} removed`);
  });
});
