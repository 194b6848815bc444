import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Rollout } from '../../daemon/rollouts/types.js';
import type { State } from '../../daemon/store/state.js';
import { DaemonProcess } from './daemon-process.js';
import { type Env, startEnv } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GUESTS = Array.from({ length: 10 }, (_, i) => 181 + i);

/** Rollouts over ten real Debian containers: canary, batches, the halt, a killed daemon and resume. */
describe('rollouts', () => {
  let env: Env;
  let daemon: DaemonProcess | undefined;
  before(async () => {
    env = await startEnv({
      guests: GUESTS.map((vmid) => ({ vmid })),
      daemonProcess: true,
      config: { recovery_retry: '1' },
    });
    // 183's upgrade fails (demo-app's postinst runs the hook); 188's takes a while
    await env.lab.writeGuestFile(183, '/etc/demo-hook', '#!/bin/sh\necho "hook refuses" >&2\nexit 1\n', 0o755);
    await env.lab.writeGuestFile(
      188,
      '/etc/demo-hook',
      '#!/bin/sh\ntouch /tmp/in-hook\nsleep 6\nrm -f /tmp/in-hook\n',
      0o755,
    );
  });
  after(async () => {
    await daemon?.stop();
    await env?.close();
  });
  const show = async (id: string) => {
    const r = await env.cli('--output-format', 'json', 'rollout', 'show', id);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as Rollout;
  };
  const version = (vmid: number) => env.lab.dpkgVersion(vmid, 'demo-app');

  it('patches the canary, then batches of three, and halts after the first failing batch', async () => {
    const r = await env.cli('rollout', 'start', '181-190', '--canary', '1', '--batch', '3', '--max-failures', '0');
    assert.equal(r.code, 6, `${r.out}\n${r.err}`);
    const lines = r.out.split('\n');
    assert.ok(
      lines.some((l) => /^rollout: group 1 of 4 \(canary\): 181 in run PVEPATCH:/.test(l)),
      r.out,
    );
    assert.ok(
      lines.some((l) => /^rollout: group 2 of 4: 182, 183, 184 in run /.test(l)),
      r.out,
    );
    assert.ok(
      lines.some((l) => /^rollout halted: 183 (failed|rolled-back)/.test(l)),
      r.out,
    );
    assert.equal(
      lines.some((l) => /group 3 of 4/.test(l)),
      false,
      'no third group',
    );
    const id = /rollout (rollout-\d{8}-[0-9a-f]{6}): halted/.exec(r.out)?.[1];
    assert.ok(id, r.out);
    const ro = await show(id);
    assert.equal(ro.state, 'halted');
    assert.deepEqual(
      ro.halt?.failures.map((f) => f.vmid),
      [183],
    );
    assert.match(ro.note ?? '', /^1 guest\(s\) failed \(at most 0 allowed\); 6 left untouched$/);
    assert.deepEqual(
      ro.guests.map((g) => [g.vmid, g.group, g.outcome ?? null]),
      [
        [181, 0, 'updated'],
        [182, 1, 'updated'],
        [183, 1, ro.guests[2]!.outcome],
        [184, 1, 'updated'],
        ...[185, 186, 187, 188, 189, 190].map((v, i) => [v, 2 + Math.floor(i / 3), null]),
      ],
    );
    assert.equal(ro.runs.length, 2);
    for (const v of [181, 182, 184]) assert.equal(await version(v), '1.1', `${v} patched`);
    for (const v of [185, 186, 187, 188, 189, 190]) assert.equal(await version(v), '1.0', `${v} untouched`);
    const audit = JSON.parse((await env.cli('--output-format', 'json', 'audit', '--action', 'rollout.*')).out) as {
      action: string;
      outcome: string;
    }[];
    assert.deepEqual(
      audit.map((a) => [a.action, a.outcome]),
      [['rollout.start', 'ok']],
    );
  });

  it('after a kill -9 mid-rollout it is paused at the group that ran, holds are cleaned, and resume completes it', async () => {
    const start = await env.cli(
      '--output-format',
      'json',
      'rollout',
      'start',
      '185-190',
      '--batch',
      '2',
      '--exclude',
      'demo-tool',
      '--detach',
    );
    assert.equal(start.code, 0, start.err);
    const { id } = JSON.parse(start.out) as { id: string };
    // wait until the group with 188 runs and 188's upgrade is in its slow hook
    const deadline = Date.now() + 90_000;
    for (;;) {
      const ro = await show(id);
      const inHook = (await env.lab.exec(188, ['test', '-e', '/tmp/in-hook'])).exitCode === 0;
      if (ro.group === 1 && inHook) break;
      assert.ok(Date.now() < deadline, `group 2 never reached 188's hook: ${JSON.stringify(ro)}`);
      await sleep(100);
    }
    env.proc!.signal('SIGKILL');
    await env.proc!.exited;
    // the guest finishes its transaction on its own; then the next daemon starts
    for (let i = 0; i < 100 && (await env.lab.exec(188, ['test', '-e', '/tmp/in-hook'])).exitCode === 0; i++)
      await sleep(200);
    daemon = await DaemonProcess.start(env.configPath);
    const paused = await show(id);
    assert.equal(paused.state, 'paused');
    assert.equal(paused.group, 1, 'at the group that was running');
    assert.match(paused.note ?? '', /^the daemon stopped while group 1 of 3 ran; 'pvepatch rollout resume /);
    assert.deepEqual(
      paused.guests.filter((g) => g.group === 0).map((g) => g.outcome),
      ['updated', 'updated'],
    );
    for (const v of [189, 190]) assert.equal(await version(v), '1.0', `${v} not started`);
    // the run's temporary hold (demo-tool) is released by recovery; nothing else is held
    const held = Date.now() + 30_000;
    for (;;) {
      const state = JSON.parse(readFileSync(join(env.stateDir, 'state.json'), 'utf8')) as State;
      if (state.pending_holds.length === 0) break;
      assert.ok(Date.now() < held, `hold records left: ${JSON.stringify(state.pending_holds)}`);
      await sleep(200);
    }
    for (const v of [187, 188])
      assert.equal((await env.lab.execOk(v, ['apt-mark', 'showhold'])).stdout.trim(), '', `${v}`);

    const resumed = await env.cli('rollout', 'resume', id);
    assert.equal(resumed.code, 0, resumed.err);
    const follow = await env.cli('rollout', 'follow', id);
    assert.equal(follow.code, 0, `${follow.out}\n${follow.err}`);
    const done = await show(id);
    assert.equal(done.state, 'completed');
    for (const v of [185, 186, 187, 188, 189, 190]) {
      assert.equal(await version(v), '1.1', `${v} patched`);
      assert.equal(await env.lab.dpkgVersion(v, 'demo-tool'), '1.0', `${v}: the rollout's exclusion held`);
      assert.match((await env.lab.exec(v, ['dpkg', '--audit'])).stdout, /^$/, `${v} dpkg consistent`);
    }
    assert.equal(done.runs.length, 4, 'three groups, the interrupted one run again');
  });

  it('refuses bad rollout input with the reason', async () => {
    for (const [argv, why] of [
      [['rollout', 'start', '181', '--batch', '0'], /batch: Too small|at least 1/],
      [['rollout', 'start', '181', '--max-failures', 'lots'], /a count \(2\) or a percentage/],
      [['rollout', 'start', '181', '--exclude', 'x;y'], /invalid package name/],
      [['rollout', 'start', '9999'], /no such guest/],
      [['rollout', 'resume', 'rollout-nope'], /no rollout 'rollout-nope'/],
    ] as const) {
      const r = await env.cli(...argv);
      assert.equal(r.code, 3, `${argv.join(' ')}: ${r.out} ${r.err}`);
      assert.match(r.err, why);
    }
  });
});
