/**
 * Two nodes, one cluster: each node's daemon (its own process, its own pct reaching only its own
 * containers) shares one cluster_dir standing in for /etc/pve, with a judge that expires locks as
 * pmxcfs' lowest-id node does. Rollouts cross nodes, a killed leader is replaced after the lock's
 * expiry, quorum loss pauses both nodes, and a schedule fires once for the whole cluster.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_PACKAGE_NAMES } from '../guests/apt-repo.js';
import { type Cluster, type ClusterNode, startCluster, waitFor } from './cluster-harness.js';
import { readRuns } from './harness.js';

interface SharedRollout {
  id: string;
  state: string;
  group: number;
  guests: { vmid: number; node?: string; group: number; outcome?: string; attempt?: number; run_id?: string }[];
}

const PVE1 = [201, 202, 203, 204];
const PVE2 = [301, 302, 303, 304];
/** The judge's lock lifetime in this test (pmxcfs: 120 s). */
const EXPIRY = 6;
const REFRESH = 1;

describe('cluster: two daemons sharing one cluster_dir', () => {
  let c: Cluster;
  const node = (name: string): ClusterNode => c.nodes[name]!;
  const shared = (file: string) => join(c.clusterDir, 'pvepatch', file);
  const rollout = (id: string): SharedRollout => {
    const all = JSON.parse(readFileSync(shared('rollouts.json'), 'utf8')) as { rollouts: SharedRollout[] };
    const r = all.rollouts.find((x) => x.id === id);
    assert.ok(r, `rollout ${id} in the shared file`);
    return r;
  };
  const leader = (): string => (JSON.parse(readFileSync(shared('leader.json'), 'utf8')) as { node: string }).node;
  const work = (n: string): Record<string, { state: string; run_id?: string }> => {
    const p = join(c.clusterDir, 'nodes', n, 'pvepatch', 'rollout-work.json');
    return existsSync(p)
      ? (JSON.parse(readFileSync(p, 'utf8')) as { entries: Record<string, { state: string }> }).entries
      : {};
  };
  const upgrades = async (vmid: number, pkg = 'demo-app') =>
    (await c.lab.dpkgLog(vmid)).split('\n').filter((l) => l.includes(` upgrade ${pkg}:`)).length;
  const startDetached = async (n: ClusterNode, ...argv: string[]): Promise<string> => {
    const r = await n.cli('rollout', 'start', ...argv, '--detach');
    assert.equal(r.code, 0, `${n.node}: rollout start: ${r.err}`);
    const id = /rollout-\d{8}-[0-9a-f]{6}/.exec(r.out)?.[0];
    assert.ok(id, `a rollout id in: ${r.out}`);
    return id;
  };
  const ended = (id: string, timeoutMs = 180_000) =>
    waitFor(() => rollout(id).state !== 'running', timeoutMs, `rollout ${id} to end`);

  before(async () => {
    c = await startCluster({
      nodes: {
        pve1: PVE1.map((vmid) => ({ vmid, hostname: `ct${vmid}` })),
        pve2: PVE2.map((vmid) => ({ vmid, hostname: `ct${vmid}` })),
      },
      expirySeconds: EXPIRY,
      refresh: REFRESH,
    });
    await waitFor(() => existsSync(shared('leader.json')), 15_000, 'a leader');
  });
  after(async () => {
    await c?.close();
  });

  it("a rollout started on pve2's CLI patches both nodes' guests in the configured order; `guests` on either node lists all", async () => {
    for (const n of ['pve1', 'pve2']) {
      const r = await node(n).cli('guests');
      assert.equal(r.code, 0, r.err);
      for (const vmid of [...PVE1, ...PVE2]) assert.match(r.out, new RegExp(`\\b${vmid}\\b`), `${n} lists ${vmid}`);
    }
    const order = [201, 301, 202, 302];
    const r = await node('pve2').cli('rollout', 'start', ...order.map(String), '--batch', '1');
    assert.equal(r.code, 0, `rollout: ${r.out}\n${r.err}\n${node('pve2').log().join('\n')}`);
    for (const vmid of order)
      for (const p of DEMO_PACKAGE_NAMES) assert.equal(await c.lab.dpkgVersion(vmid, p), '1.1', `${vmid} ${p}`);
    // each guest was patched by its own node's daemon, one after the other in the order given
    const runs = ['pve1', 'pve2'].flatMap((n) => readRuns(node(n)).map((run) => ({ ...run, node: n })));
    const runOf = (vmid: number) => {
      const mine = runs.filter((x) => x.guests[String(vmid)] === 'updated');
      assert.equal(mine.length, 1, `${vmid} patched once: ${JSON.stringify(mine)}`);
      return mine[0]!;
    };
    for (const vmid of order) assert.equal(runOf(vmid).node, vmid < 300 ? 'pve1' : 'pve2', `${vmid} by its node`);
    for (let i = 1; i < order.length; i++) {
      const [prev, next] = [runOf(order[i - 1]!), runOf(order[i]!)];
      assert.ok(
        Date.parse(prev.ended_at!) <= Date.parse(next.started_at),
        `${order[i - 1]} ended before ${order[i]} started`,
      );
    }
    for (const vmid of [203, 204, 303, 304])
      assert.equal(await c.lab.dpkgVersion(vmid, 'demo-app'), '1.0', `${vmid} untouched`);
  });

  it('kill -9 of the leader mid-rollout: after the expiry the other node takes over at the right guest; nothing patched twice, no holds left', async () => {
    const lead = leader();
    const other = lead === 'pve1' ? 'pve2' : 'pve1';
    const [l1, l2] = lead === 'pve1' ? [203, 204] : [303, 304];
    const [f1, f2] = lead === 'pve1' ? [303, 304] : [203, 204];
    await c.lab.setPctExecDelay(1);
    const id = await startDetached(node(other), ...[l1, f1, l2, f2].map(String), '--batch', '1');
    // the follower is patching its first guest: the leader dies
    await waitFor(() => work(other)[`${id}/${f1}/1`]?.state === 'running', 90_000, `${other} running ${f1}`);
    const killedAt = Date.now();
    await node(lead).kill('SIGKILL');
    await waitFor(
      () =>
        node(other)
          .log()
          .some((l) => l.includes(`node '${other}' leads pvepatch`)),
      EXPIRY * 1000 + 20_000,
      `${other} to take the leader lock`,
    );
    const tookOver = Date.now() - killedAt;
    assert.ok(tookOver >= (EXPIRY - 1) * 1000, `taken over only after the expiry (${tookOver} ms)`);
    assert.ok(
      c.judgeLog.some((l) => l.includes('expired, removed')),
      c.judgeLog.join('\n'),
    );
    await waitFor(() => rollout(id).guests.find((g) => g.vmid === f1)?.outcome !== undefined, 60_000, `${f1} settled`);
    // the dead node's next guest waits for its daemon; systemd starts it again
    assert.equal(rollout(id).guests.find((g) => g.vmid === l2)?.outcome, undefined);
    await node(lead).start();
    await ended(id);
    await c.lab.setPctExecDelay(0);
    const r = rollout(id);
    assert.equal(r.state, 'completed', JSON.stringify(r));
    for (const vmid of [l1, f1, l2, f2]) {
      assert.equal(r.guests.find((g) => g.vmid === vmid)?.outcome, 'updated', `${vmid}: ${JSON.stringify(r.guests)}`);
      assert.equal(await c.lab.dpkgVersion(vmid, 'demo-app'), '1.1', `${vmid}`);
      assert.equal(await upgrades(vmid), 1, `${vmid} upgraded exactly once`);
      assert.equal((await c.lab.execOk(vmid, ['apt-mark', 'showhold'])).stdout.trim(), '', `${vmid}: no holds left`);
    }
  });

  it('without quorum both daemons pause within a refresh and the rollout goes on when it returns', async () => {
    await c.lab.setRepo('v3', { update: true });
    await c.lab.setPctExecDelay(1);
    const order = [201, 301, 202, 302];
    const id = await startDetached(node('pve1'), ...order.map(String), '--batch', '1');
    // the first guest is past its snapshot and upgrading (v3 brings demo-lib and demo-tool 1.2)
    await waitFor(async () => (await upgrades(201, 'demo-lib')) === 2, 90_000, '201 upgrading to 1.2');
    const marks = Object.fromEntries(['pve1', 'pve2'].map((n) => [n, node(n).log().length]));
    const dropped = Date.now();
    c.sim.setQuorate(false);
    const lost = (n: string) =>
      node(n)
        .log()
        .slice(marks[n])
        .some((l) => l.includes(`cluster quorum lost on node '${n}'`));
    await waitFor(() => lost('pve1') && lost('pve2'), 10_000, 'both daemons to see quorum lost');
    const paused = Date.now() - dropped;
    assert.ok(
      paused <= REFRESH * 1000 + 2500,
      `both paused within a refresh interval (+ the quorum answer's age): ${paused} ms`,
    );
    // nothing new is handed out while it lasts
    await new Promise((r) => setTimeout(r, 6000));
    const during = rollout(id);
    assert.equal(during.state, 'running');
    for (const g of during.guests.filter((x) => x.vmid !== 201))
      assert.equal(g.attempt, undefined, `${g.vmid} not handed out without quorum: ${JSON.stringify(during.guests)}`);
    c.sim.setQuorate(true);
    await ended(id);
    await c.lab.setPctExecDelay(0);
    const r = rollout(id);
    assert.equal(r.state, 'completed', JSON.stringify(r));
    for (const vmid of order) {
      assert.equal(await c.lab.dpkgVersion(vmid, 'demo-lib'), '1.2', `${vmid}`);
      assert.equal(await upgrades(vmid, 'demo-lib'), 2, `${vmid}: 1.0 → 1.1 → 1.2, each once`);
    }
    for (const n of ['pve1', 'pve2'])
      assert.ok(
        node(n)
          .log()
          .slice(marks[n])
          .some((l) => l.includes(`cluster quorum is back on node '${n}'`)),
        `${n} saw quorum return`,
      );
  });

  it('a schedule defined once fires once per occurrence for the whole cluster', async () => {
    const add = await node('pve2').cli(
      'schedule',
      'add',
      'every-minute',
      'all',
      '--cron',
      '* * * * *',
      '--window',
      '1',
    );
    assert.equal(add.code, 0, add.err);
    // the definition is cluster-wide: the other node lists it too
    await waitFor(
      async () => (await node('pve1').cli('schedule', 'list')).out.includes('every-minute'),
      10_000,
      'pve1 to see it',
    );
    const fired = () =>
      ['pve1', 'pve2'].flatMap((n) =>
        node(n)
          .log()
          .filter((l) => l.includes("schedule 'every-minute' fired for"))
          .map((l) => ({ n, at: /fired for (\S+)/.exec(l)?.[1] })),
      );
    await waitFor(() => fired().length >= 1, 75_000, 'the schedule to fire');
    // a few seconds more: a second node firing the same occurrence would have done so by now
    await new Promise((r) => setTimeout(r, 5000));
    const first = fired()[0]!;
    const same = fired().filter((f) => f.at === first.at);
    assert.equal(same.length, 1, `fired once for ${first.at}: ${JSON.stringify(fired())}`);
    assert.equal(first.n, leader(), 'by the leader');
    const rm = await node('pve1').cli('schedule', 'rm', 'every-minute');
    assert.equal(rm.code, 0, rm.err);
  });
});
