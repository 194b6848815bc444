/**
 * Two nodes, one cluster: each node's daemon (its own process, its own pct reaching only its own
 * containers) shares one cluster_dir standing in for /etc/pve, with a judge that expires locks as
 * pmxcfs' lowest-id node does. Rollouts cross nodes, a killed leader is replaced after the lock's
 * expiry, quorum loss pauses both nodes, and a schedule fires once for the whole cluster.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch } from 'undici';
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
    for (const n of ['pve1', 'pve2'])
      await waitFor(
        () => existsSync(join(c.clusterDir, 'nodes', n, 'pvepatch', 'status.json')),
        15_000,
        `${n} to publish its status`,
      );
  });
  after(async () => {
    await c?.close();
  });

  it("a rollout started on pve2's CLI patches both nodes' guests in the configured order; `guests` on either node lists all", async () => {
    for (const n of ['pve1', 'pve2']) {
      const r = await node(n).cli('guests');
      assert.equal(r.code, 0, r.err);
      for (const vmid of [...PVE1, ...PVE2]) assert.match(r.out, new RegExp(`\\b${vmid}\\b`), `${n} lists ${vmid}`);
      // the other node's guests as their own daemon sees them, not as unreachable from here
      assert.doesNotMatch(r.out, /reaches only this node|unreachable|no pvepatch daemon/, r.out);
    }
    const view = await node('pve1').cli('cluster');
    assert.equal(view.code, 0, view.err);
    assert.match(view.out, new RegExp(`leader: ${leader()} · quorum: yes`));
    assert.match(view.out, /pve1 +running/);
    assert.match(view.out, /pve2 +running/);
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
    // `pvepatch runs` on either node lists the runs of both
    for (const n of ['pve1', 'pve2']) {
      const list = await node(n).cli('runs');
      assert.equal(list.code, 0, list.err);
      for (const vmid of order)
        assert.ok(list.out.includes(runOf(vmid).id), `${n} lists ${runOf(vmid).id}:\n${list.out}`);
    }
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
    // the dead node's status stops being refreshed: it shows as not running
    await waitFor(
      async () => new RegExp(`${lead} +not running`).test((await node(other).cli('cluster')).out),
      10_000,
      `${other} to show ${lead} as not running`,
    );
    assert.match((await node(other).cli('cluster')).out, new RegExp(`leader: ${other} `));
    assert.ok(tookOver >= (EXPIRY - 1) * 1000, `taken over only after the expiry (${tookOver} ms)`);
    assert.ok(
      c.judgeLog.some((l) => l.includes('expired, removed')),
      c.judgeLog.join('\n'),
    );
    await waitFor(() => rollout(id).guests.find((g) => g.vmid === f1)?.outcome !== undefined, 60_000, `${f1} settled`);
    // the dead node's next guest waits for its daemon; systemd starts it again
    assert.equal(rollout(id).guests.find((g) => g.vmid === l2)?.outcome, undefined);
    // handed to its dead node, it waits; the leader's steps change nothing, so nothing is written
    await waitFor(
      () => rollout(id).guests.find((g) => g.vmid === l2)?.attempt !== undefined,
      10_000,
      `${l2} handed out`,
    );
    await new Promise((r) => setTimeout(r, 1500));
    const quiet = statSync(shared('rollouts.json')).mtimeMs;
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(statSync(shared('rollouts.json')).mtimeMs, quiet, 'no write per tick while nothing changes');
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
    for (const n of ['pve1', 'pve2']) assert.match((await node(n).cli('cluster')).out, /quorum: NO/, `${n} says so`);
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
    // its report covers the whole cluster: every node planned its own guests
    await waitFor(() => existsSync(shared('schedules.json')), 5000, 'the shared schedules');
    const report = () =>
      (
        JSON.parse(readFileSync(shared('schedules.json'), 'utf8')) as {
          reports: Record<string, { guests: number; skipped: number }>;
        }
      ).reports['every-minute'];
    await waitFor(() => report() !== undefined, 30_000, 'the report');
    assert.deepEqual(
      { guests: report()!.guests, skipped: report()!.skipped },
      { guests: 8, skipped: 0 },
      JSON.stringify(report()),
    );
    const rm = await node('pve1').cli('schedule', 'rm', 'every-minute');
    assert.equal(rm.code, 0, rm.err);
  });

  it("a user whose privileges cover only pve1's guests, calling pve2's API, sees and acts on only those", async () => {
    for (const vmid of [201, 202]) c.sim.setGuest(vmid, { pool: 'one' });
    c.sim.addUser('erin@pve');
    c.sim.setAcl({ path: '/pool/one', roles: ['PVEVMAdmin'], users: ['erin@pve'] });
    // 302 (on pve2) she may only look at
    c.sim.setGuest(302, { pool: 'audit' });
    c.sim.setAcl({ path: '/pool/audit', roles: ['PVEAuditor'], users: ['erin@pve'] });
    const t = c.sim.ticketFor('erin@pve');
    const pve2 = node('pve2');
    const dispatcher = new Agent({ connect: { ca: pve2.certPem, servername: 'pve2' } });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`https://127.0.0.1:${pve2.apiPort}/api/v1${path}`, {
        method,
        dispatcher,
        headers: {
          cookie: `PVEAuthCookie=${encodeURIComponent(t.ticket)}`,
          CSRFPreventionToken: t.csrf,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return {
        status: res.status,
        json: JSON.parse(text) as { data?: unknown; error?: { code: string; message: string } },
      };
    };
    try {
      // pve1's daemon answers for pve1's guests with erin's own ticket; pve2's own guests are not hers
      const fleet = await call('GET', '/fleet');
      assert.equal(fleet.status, 200, JSON.stringify(fleet.json));
      const rows = fleet.json.data as { vmid: number; node: string; unreachable?: string }[];
      assert.deepEqual(
        rows.map((r) => r.vmid),
        [201, 202, 302],
      );
      assert.deepEqual(
        rows.map((r) => r.node),
        ['pve1', 'pve1', 'pve2'],
      );
      assert.ok(
        rows.every((r) => !r.unreachable),
        JSON.stringify(rows),
      );
      const guests = await call('GET', '/guests');
      assert.deepEqual(
        (guests.json.data as { vmid: number }[]).map((g) => g.vmid),
        [201, 202, 302],
      );
      // acting on pve1's guest through pve2: the run happens on pve1
      const run = await call('POST', '/runs', { selector: ['201'], exclude: [] });
      assert.equal(run.status, 202, JSON.stringify(run.json));
      const id = (run.json.data as { id: string }).id;
      assert.match(id, /^PVEPATCH:pve1:/);
      await waitFor(
        async () =>
          ((await call('GET', `/runs/${encodeURIComponent(id)}`)).json.data as { state?: string })?.state !== 'running',
        60_000,
        `run ${id} to end (read through pve2)`,
      );
      const done = (await call('GET', `/runs/${encodeURIComponent(id)}`)).json.data as {
        state: string;
        guests: Record<string, string>;
      };
      assert.equal(done.state, 'ok', JSON.stringify(done));
      assert.equal(done.guests['201'], 'up-to-date', JSON.stringify(done)); // 1.2 since the quorum test
      // pve2's own guest is not hers: invisible to her, so her run covers nothing and 301 is untouched
      const before = await upgrades(301, 'demo-lib');
      const other = await call('POST', '/runs', { selector: ['301'], exclude: [] });
      assert.equal(other.status, 202, JSON.stringify(other.json));
      const otherId = (other.json.data as { id: string }).id;
      assert.match(otherId, /^PVEPATCH:pve2:/);
      await waitFor(
        async () =>
          ((await call('GET', `/runs/${encodeURIComponent(otherId)}`)).json.data as { state?: string })?.state !==
          'running',
        30_000,
        `run ${otherId} to end`,
      );
      const nothing = (await call('GET', `/runs/${encodeURIComponent(otherId)}`)).json.data as {
        guests: Record<string, string>;
      };
      assert.deepEqual(nothing.guests, {}, JSON.stringify(nothing));
      assert.equal(await upgrades(301, 'demo-lib'), before, '301 untouched');
      // and a guest of pve2 she may see but not patch is refused by pve2, naming the privileges
      const refused = await call('POST', '/runs', { selector: ['302'], exclude: [] });
      assert.equal(refused.status, 403, JSON.stringify(refused.json));
      assert.match(refused.json.error!.message, /VM 302: missing VM\.Snapshot, VM\.PowerMgmt/);
    } finally {
      await dispatcher.close();
    }
  });
});
