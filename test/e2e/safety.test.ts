import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunReport } from '../../daemon/engine/types.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import { type Env, invalidRequests, runCli, startEnv, versions } from './harness.js';

const all10 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.0']));
const pvepatchSnapshots = (env: Env, vmid: number) =>
  env.sim.guest(vmid).snapshots.filter((s) => s.name.startsWith('pvepatch-'));
const posts = (env: Env) => env.sim.requests.filter((r) => r.method !== 'GET').length;

describe('safety gates on real containers', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({ guests: [201, 202, 203, 204, 205].map((vmid) => ({ vmid })) });
  });
  after(() => env?.close());

  it('refuses a guest covered by a running vzdump and leaves it untouched', async () => {
    const upid = env.sim.startVzdump({ node: 'pve1', vmids: [201] });
    const r = await env.cli('--output-format', 'json', 'run', '201');
    env.sim.finishTask(upid);
    assert.equal(r.code, 5, r.err);
    const report = JSON.parse(r.out) as RunReport;
    assert.equal(report.guests[0]!.outcome, 'refused');
    assert.match(
      report.guests[0]!.reason!,
      /gate: unable to patch CT 201 - CT is locked \(backup\); retry when it is released/,
    );
    assert.deepEqual(await versions(env.lab, 201, DEMO_PACKAGE_NAMES), all10);
    assert.equal(pvepatchSnapshots(env, 201).length, 0);
  });

  it('refuses when a vzdump of several guests runs on the node even before the lock is set', async () => {
    const upid = env.sim.startTask({ node: 'pve1', type: 'vzdump', id: '', user: 'root@pam' });
    const r = await env.cli('--output-format', 'json', 'run', '201');
    env.sim.finishTask(upid);
    assert.equal(r.code, 5);
    assert.match(
      (JSON.parse(r.out) as RunReport).guests[0]!.reason!,
      /backup task UPID:pve1:\S+:vzdump::root@pam: is running/,
    );
    assert.deepEqual(await versions(env.lab, 201, DEMO_PACKAGE_NAMES), all10);
  });

  it('does not patch a guest whose snapshot fails, and says why', async () => {
    env.sim.failSnapshots(202, 'snapshot feature is not available');
    const r = await env.cli('--output-format', 'json', 'run', '202');
    env.sim.failSnapshots(202, null);
    assert.equal(r.code, 5);
    const g = (JSON.parse(r.out) as RunReport).guests[0]!;
    assert.equal(g.outcome, 'refused');
    assert.match(g.reason!, /protect: .*snapshot feature is not available/);
    assert.deepEqual(await versions(env.lab, 202, DEMO_PACKAGE_NAMES), all10);
  });

  it('keeps an excluded package back and an admin hold in place, and removes its own hold', async () => {
    await env.lab.execOk(203, ['apt-mark', 'hold', 'demo-lib']);
    const r = await env.cli('--output-format', 'json', 'run', '203', '--exclude', 'demo-tool');
    assert.equal(r.code, 0, r.err);
    const v = await versions(env.lab, 203, DEMO_PACKAGE_NAMES);
    assert.deepEqual(v, {
      'demo-lib': '1.0',
      'demo-app': '1.1',
      'demo-conf': '1.1',
      'demo-tool': '1.0',
      'demo-sec': '1.1',
    });
    const holds = (await env.lab.execOk(203, ['apt-mark', 'showhold'])).stdout.trim().split('\n');
    assert.deepEqual(holds, ['demo-lib']);
    const report = JSON.parse(r.out) as RunReport;
    assert.deepEqual(report.guests[0]!.exclusions, ['demo-tool']);
    const state = JSON.parse((await import('node:fs')).readFileSync(`${env.dir}/state/state.json`, 'utf8'));
    assert.deepEqual(state.pending_holds, [], 'no recorded holds left');
  });

  it('upgrades only security fixes when asked', async () => {
    const plan = await env.cli('--output-format', 'json', 'plan', '205', '--security-only');
    assert.deepEqual(
      (JSON.parse(plan.out) as { packages: { package: string }[] }[])[0]!.packages.map((p) => p.package),
      ['demo-sec'],
    );
    const r = await env.cli('--output-format', 'json', 'run', '205', '--security-only');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(await versions(env.lab, 205, DEMO_PACKAGE_NAMES), { ...all10, 'demo-sec': '1.1' });
    const again = await env.cli('--output-format', 'json', 'run', '205', '--security-only');
    assert.equal(again.code, 2);
    assert.equal((JSON.parse(again.out) as RunReport).guests[0]!.reason, 'no security updates');
  });

  it('gives a clear error after waiting for a held dpkg lock and changes nothing', async () => {
    const hold = await env.lab.holdDpkgLock(204, 120);
    try {
      const started = Date.now();
      const r = await env.cli('--output-format', 'json', 'run', '204');
      assert.equal(r.code, 5);
      const g = (JSON.parse(r.out) as RunReport).guests[0]!;
      assert.match(g.reason!, /lock.*held by process \d+/);
      assert.ok(Date.now() - started >= 4000, 'it waited for the lock');
      assert.deepEqual(await versions(env.lab, 204, DEMO_PACKAGE_NAMES), all10);
      assert.equal(pvepatchSnapshots(env, 204).length, 0, 'no snapshot for a guest that cannot be patched');
    } finally {
      await hold.release();
    }
  });

  it('refuses bad input with a clear error and exit code before anything is sent', async () => {
    const before = posts(env);
    const cases: [string[], number, RegExp][] = [
      [['run', '999'], 3, /unable to select guest 999 - no such guest/],
      [['run', '20x'], 3, /invalid guest selector '20x'/],
      [['run', '201', '--exclude', 'nginx;rm -rf /'], 3, /invalid package name 'nginx;rm -rf \/'/],
      [['plan', 'tag:a;b'], 3, /invalid guest selector/],
      [['log', 'nope'], 3, /invalid run id|no run 'nope'/],
    ];
    for (const [argv, code, message] of cases) {
      const r = await env.cli(...argv);
      assert.equal(r.code, code, argv.join(' '));
      assert.match(r.err, message);
    }
    assert.equal(posts(env), before, 'no mutating call reached Proxmox');
    assert.deepEqual(await versions(env.lab, 201, DEMO_PACKAGE_NAMES), all10);
    assert.deepEqual(invalidRequests(env.sim), []);
  });

  it('reports a Proxmox API that fails or does not answer, and changes nothing', async () => {
    env.sim.inject({ method: 'GET', path: '/cluster/resources', status: 500, message: 'cfs-lock timeout', times: 1 });
    const r500 = await env.cli('run', '201');
    assert.equal(r500.code, 7);
    assert.match(r500.err, /GET \/cluster\/resources: 500 cfs-lock timeout/);
    env.sim.inject({ method: 'GET', path: /\/lxc\/201\/config$/, delayMs: 7000, times: 1 });
    const slow = await env.cli('--output-format', 'json', 'run', '201');
    assert.equal(slow.code, 5, 'a guest whose gate could not be read is refused, untouched');
    assert.match(
      (JSON.parse(slow.out) as RunReport).guests[0]!.reason!,
      /gate: GET \/nodes\/pve1\/lxc\/201\/config: no answer from Proxmox API within 5s/,
    );
    assert.deepEqual(await versions(env.lab, 201, DEMO_PACKAGE_NAMES), all10);
    assert.equal(pvepatchSnapshots(env, 201).length, 0);
  });

  it('refuses to start without a token and reports a wrong fingerprint per request', async () => {
    const noToken = env.writeConfig('no-token.conf', { pve_token: undefined, socket: `${env.dir}/run/other.sock` });
    const r1 = await runCli(['--config', noToken, 'daemon']);
    assert.equal(r1.code, 4);
    assert.match(r1.err, /no API token configured/);
    // a daemon of its own (one daemon owns a state directory)
    const wrong = env.writeConfig('wrong-fp.conf', {
      pve_fingerprint: 'AA:'.repeat(31).concat('AA'),
      socket: `${env.dir}/run/wrong.sock`,
      state_dir: `${env.dir}/state-wrong`,
      log_dir: `${env.dir}/log-wrong`,
    });
    const { Daemon } = await import('../../daemon/daemon.js');
    const { loadConfig } = await import('../../daemon/config/load.js');
    const { createLogger } = await import('../../daemon/core/logger.js');
    const logs: string[] = [];
    const d = new Daemon(
      loadConfig({ path: wrong, env: {} }),
      createLogger((l) => logs.push(l)),
    );
    await d.start();
    try {
      // the API check runs right after READY, in the background
      for (let i = 0; i < 100 && !logs.some((l) => /fingerprint mismatch/.test(l)); i++) await sleep(50);
      assert.ok(
        logs.some((l) => /fingerprint mismatch/.test(l)),
        'the daemon says so at start',
      );
      const r2 = await runCli(['--config', wrong, 'guests']);
      assert.equal(r2.code, 7);
      assert.match(r2.err, /TLS certificate fingerprint mismatch - server presented [0-9A-F:]{95}, expected AA:AA/);
    } finally {
      await d.stop();
    }
    const bad = env.writeConfig('bad-token.conf', {
      pve_token: 'root@pam!x=not-a-uuid',
      socket: `${env.dir}/run/bad.sock`,
    });
    const r3 = await runCli(['--config', bad, 'daemon']);
    assert.equal(r3.code, 4);
    assert.match(r3.err, /invalid pve_token/);
    assert.doesNotMatch(r3.err, /not-a-uuid/);
  });
});
