import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../../daemon/engine/types.js';
import type { Rollout } from '../../daemon/rollouts/types.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import { type Env, startEnv, versions } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const all = (v: string) => Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, v]));

/**
 * Without cluster quorum (/cluster/status says `quorate: 0`; every write to PVE fails) pvepatch starts
 * nothing new: a run refuses its guests at the gate and changes nothing, a rollout waits before its next
 * group and goes on by itself once quorum is back.
 */
describe('cluster quorum', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({ guests: [{ vmid: 141 }, { vmid: 142 }, { vmid: 143 }] });
  });
  after(async () => {
    env?.sim.setQuorate(true);
    await env?.close();
  });

  it('a run without quorum refuses every guest at the gate, naming the cause, and touches nothing', async () => {
    env.sim.setQuorate(false);
    const from = env.sim.requests.length;
    const r = await env.cli('--output-format', 'json', 'run', '141');
    const report = JSON.parse(r.out) as RunReport;
    assert.deepEqual(
      report.guests.map((g) => [g.vmid, g.outcome]),
      [[141, 'refused']],
    );
    assert.match(
      report.guests[0]!.reason ?? '',
      /gate: unable to patch CT 141 - the cluster has no quorum .*pvecm status/,
    );
    assert.deepEqual(await versions(env.lab, 141, DEMO_PACKAGE_NAMES), all('1.0'));
    const writes = env.sim.requests.slice(from).filter((q) => q.method !== 'GET');
    assert.deepEqual(writes, [], 'no write was even tried');
    assert.ok(
      env.daemonLog.some((l) => l.includes('cluster quorum lost')),
      env.daemonLog.join('\n'),
    );
  });

  it('a rollout waits for quorum before a group and goes on by itself when it returns', async () => {
    env.sim.setQuorate(false);
    const started = await env.cli('rollout', 'start', '142-143', '--batch', '1', '--detach');
    assert.equal(started.code, 0, started.err);
    const id = started.out.trim().split(/\s+/).pop()!;
    await sleep(6000);
    const show = async () => {
      const s = await env.cli('--output-format', 'json', 'rollout', 'show', id);
      assert.equal(s.code, 0, s.err);
      return JSON.parse(s.out) as Rollout;
    };
    let ro = await show();
    assert.equal(ro.state, 'running');
    assert.deepEqual(ro.runs, [], 'no group started without quorum');
    assert.deepEqual(await versions(env.lab, 142, DEMO_PACKAGE_NAMES), all('1.0'));
    env.sim.setQuorate(true);
    const t0 = Date.now();
    for (ro = await show(); ro.state === 'running' && Date.now() - t0 < 90_000; ro = await show()) await sleep(500);
    assert.equal(ro.state, 'completed', JSON.stringify(ro));
    assert.deepEqual(
      ro.guests.map((g) => [g.vmid, g.outcome]),
      [
        [142, 'updated'],
        [143, 'updated'],
      ],
    );
    for (const v of [142, 143]) assert.deepEqual(await versions(env.lab, v, DEMO_PACKAGE_NAMES), all('1.1'));
    assert.ok(
      env.daemonLog.some((l) => l.includes(`rollout ${id}: the cluster has no quorum`)),
      env.daemonLog.join('\n'),
    );
    assert.ok(env.daemonLog.some((l) => l.includes(`rollout ${id}: the cluster is quorate again`)));
  });
});
