/**
 * Start and stop on real guests with the daemon as its own process: a second daemon started during
 * a run exits at once and touches nothing; SIGTERM during dist-upgrade lets the upgrade finish and
 * marks the run; a stop that overruns stop_timeout keeps every record for recovery.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunReport } from '../../daemon/engine/types.js';
import type { LogLine } from '../../daemon/store/run-log.js';
import type { RunSummary, State } from '../../daemon/store/state.js';
import { DEMO_PACKAGE_NAMES } from '../guests/apt-repo.js';
import { DaemonProcess } from './daemon-process.js';
import { type CliResult, type Env, readRuns, startEnv, versions } from './harness.js';

const SLOW_HOOK = (seconds: number) => `#!/bin/sh\nsleep ${seconds}\n`;

function readState(env: Env): State {
  return JSON.parse(readFileSync(join(env.stateDir, 'state.json'), 'utf8')) as State;
}

/** Polls the run log until a line matches (the run id is the newest run's). */
async function waitForLog(env: Env, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const runs = await env.cli('--output-format', 'json', 'runs');
    const id = runs.code === 0 ? (JSON.parse(runs.out) as RunSummary[])[0]?.id : undefined;
    if (id) {
      const log = await env.cli('--output-format', 'json', 'log', id);
      if (log.code === 0 && (JSON.parse(log.out) as LogLine[]).some((l) => pattern.test(l.t))) return id;
    }
    await sleep(200);
  }
  throw new Error(`no log line matched ${pattern} within ${timeoutMs} ms`);
}

async function auditClean(env: Env, vmid: number): Promise<void> {
  const audit = await env.lab.exec(vmid, ['dpkg', '--audit']);
  assert.equal(audit.stdout.trim(), '', `dpkg --audit in ${vmid} is empty`);
}

describe('a second daemon started during a run', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({ guests: [{ vmid: 601 }], daemonProcess: true });
    await env.lab.writeGuestFile(601, '/etc/demo-hook', SLOW_HOOK(4), 0o755);
  });
  after(() => env?.close());

  it('exits at once with a clear message, and the run completes untouched with its holds intact', async () => {
    const run = env.cli('--output-format', 'json', 'run', '601', '--exclude', 'demo-tool');
    await waitForLog(env, /CT 601: \| Setting up demo-app/);
    const held = await env.lab.execOk(601, ['apt-mark', 'showhold']);
    assert.equal(held.stdout.trim(), 'demo-tool', "the run's hold is in place");
    const stateBefore = readFileSync(join(env.stateDir, 'state.json'), 'utf8');
    assert.equal(readState(env).pending_holds.length, 1, 'and recorded');

    const t0 = Date.now();
    const second = await DaemonProcess.start(env.configPath);
    const code = await second.exited;
    assert.equal(code, 5, second.log.join('\n'));
    assert.ok(Date.now() - t0 < 10_000, 'exits at once');
    assert.match(
      second.log.join('\n'),
      new RegExp(
        `unable to start - another pvepatch daemon \\(pid ${env.proc!.pid}\\) owns ${env.stateDir}; stop it first`,
      ),
    );
    assert.equal(readFileSync(join(env.stateDir, 'state.json'), 'utf8'), stateBefore, 'state untouched');
    assert.equal((await env.lab.execOk(601, ['apt-mark', 'showhold'])).stdout.trim(), 'demo-tool', 'hold untouched');

    const r: CliResult = await run;
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as RunReport;
    assert.equal(report.guests[0]?.outcome, 'updated');
    assert.equal(await env.lab.dpkgVersion(601, 'demo-tool'), '1.0', 'the exclusion held through the upgrade');
    assert.equal(await env.lab.dpkgVersion(601, 'demo-app'), '1.1');
    assert.equal((await env.lab.execOk(601, ['apt-mark', 'showhold'])).stdout.trim(), '', 'and was released after');
    assert.deepEqual(readState(env).pending_holds, []);
    assert.equal(env.proc!.child.exitCode, null, 'the first daemon runs on');
  });
});

describe('SIGTERM during dist-upgrade', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({
      guests: [{ vmid: 611 }, { vmid: 612 }, { vmid: 613 }],
      daemonProcess: true,
      config: { concurrency: '1', stop_timeout: '60' },
    });
    await env.lab.writeGuestFile(611, '/etc/demo-hook', SLOW_HOOK(4), 0o755);
  });
  after(() => env?.close());

  it('lets the upgrade finish, starts nothing new, marks the run and exits 0', async () => {
    const run = env.cli('run', '611', '612', '613');
    const id = await waitForLog(env, /CT 611: \| Setting up demo-app/);
    env.proc!.signal('SIGTERM');
    const t0 = Date.now();
    assert.equal(await env.proc!.exited, 0, env.daemonLog.join('\n'));
    assert.ok(Date.now() - t0 < 60_000);
    await run.catch(() => {}); // the CLI loses its daemon; the records tell the story
    await auditClean(env, 611);
    assert.deepEqual(
      await versions(env.lab, 611, DEMO_PACKAGE_NAMES),
      Object.fromEntries(DEMO_PACKAGE_NAMES.map((n) => [n, '1.1'])),
      'the upgrade in progress ran to its end',
    );
    // planning and snapshots run ahead of the upgrades (pipelining), so the next guests may already
    // be planned and snapshotted; their packages are untouched and every snapshot is recorded
    const records = readState(env).snapshots;
    for (const vmid of [612, 613]) {
      assert.equal(await env.lab.dpkgVersion(vmid, 'demo-app'), '1.0', `${vmid} untouched`);
      for (const snap of env.sim.guest(vmid).snapshots.filter((x) => x.name !== 'current')) {
        assert.ok(
          records.some((r) => r.vmid === vmid && r.name === snap.name && r.state === 'created'),
          `snapshot ${snap.name} of ${vmid} is recorded`,
        );
      }
    }
    const summary = readRuns(env).find((r) => r.id === id)!;
    assert.equal(summary.state, 'interrupted');
    assert.deepEqual(summary.guests, { '611': 'updated', '612': 'interrupted', '613': 'interrupted' });
    const log = readFileSync(join(env.logDir, `${id.replace(/[^A-Za-z0-9:._-]/g, '_')}.log`), 'utf8')
      .trimEnd()
      .split('\n');
    assert.equal(log.at(-1), 'TASK ERROR: interrupted - the daemon stopped before 612, 613 were done');
    assert.ok(
      log.some((l) =>
        /CT 612: interrupted: daemon stopping - stopped before stage '(gate|precheck|protect|patch)'$/.test(l),
      ),
    );
    assert.deepEqual(readState(env).pending_holds, []);
  });
});

describe('a stop that overruns stop_timeout', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({
      guests: [{ vmid: 621 }],
      daemonProcess: true,
      config: { stop_timeout: '2', recovery_retry: '1' },
    });
    await env.lab.writeGuestFile(621, '/etc/demo-hook', SLOW_HOOK(8), 0o755);
  });
  after(() => env?.close());

  it('stops with every record intact, and the next start recovers them', async () => {
    const run = env.cli('run', '621', '--exclude', 'demo-tool');
    const id = await waitForLog(env, /CT 621: \| Setting up demo-app/);
    env.proc!.signal('SIGTERM');
    assert.equal(await env.proc!.exited, 0);
    await run.catch(() => {});
    const state = readState(env);
    const summary = readRuns(env).find((r) => r.id === id)!;
    assert.equal(summary.state, 'interrupted');
    assert.match(
      summary.error ?? '',
      /^interrupted - the daemon was stopped before the run ended \(621 in stage 'patch'\)$/,
    );
    assert.deepEqual(
      state.pending_holds.map((h) => [h.vmid, h.holds, h.transport, h.type]),
      [[621, ['demo-tool'], 'pct', 'lxc']],
      'the hold record stays for recovery',
    );
    assert.equal(state.snapshots.filter((s) => s.state === 'created').length, 1, 'the snapshot is recorded');

    // the guest finishes its transaction on its own; the next daemon removes the hold once it may
    const next = await DaemonProcess.start(env.configPath);
    try {
      const deadline = Date.now() + 60_000;
      while (readState(env).pending_holds.length > 0 && Date.now() < deadline) await sleep(250);
      assert.deepEqual(readState(env).pending_holds, [], next.log.join('\n'));
      assert.equal((await env.lab.execOk(621, ['apt-mark', 'showhold'])).stdout.trim(), '');
      assert.equal(await env.lab.dpkgVersion(621, 'demo-tool'), '1.0', 'held while the upgrade ran');
      await auditClean(env, 621);
      assert.ok(next.log.some((l) => /released holds demo-tool left in CT 621 by run /.test(l)));
      assert.equal(readRuns(env).find((r) => r.id === id)?.state, 'interrupted', 'never re-run');
    } finally {
      await next.stop();
    }
  });
});
