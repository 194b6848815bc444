import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab } from '../guests/lab.js';
import { startSim } from './server.js';
import { call, data, TOKEN, waitStopped } from './test-client.js';
import type { Sim, SimOptions } from './types.js';

/**
 * The QEMU guest agent and power endpoints against real lab guests: VM 200 (agent on), VM 201 (agent
 * off), CT 101. One lab for the file; a fresh simulator per test.
 */

const VM = '/nodes/pve1/qemu/200';

type Status = {
  exited: number;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
  'out-truncated'?: number;
  'err-truncated'?: number;
};

describe('sim: QEMU guest agent and reboots on lab guests', () => {
  let lab: Lab;

  before(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pvepatch-sim-agent-'));
    lab = await Lab.create({
      dir,
      guests: [
        { vmid: 200, kind: 'vm', hostname: 'vm200', packages: [] },
        { vmid: 201, kind: 'vm', packages: [] },
        { vmid: 101, hostname: 'ct101', packages: [] },
      ],
    });
    lab.powerBackend.gapMs = 300;
  });

  after(async () => {
    await lab?.destroy();
  });

  async function simFor(t: { after: (fn: () => Promise<void>) => void }, opts: Partial<SimOptions> = {}) {
    // earlier tests may have left a guest stopped (never-returns) - every test starts with all running
    for (const vmid of [200, 201, 101]) await lab.setStatus(vmid, 'running');
    const sim = await startSim({
      guests: [
        {
          vmid: 200,
          type: 'qemu',
          node: 'pve1',
          name: 'vm200',
          status: 'running',
          config: { agent: 'enabled=1,fstrim_cloned_disks=1' },
        },
        { vmid: 201, type: 'qemu', node: 'pve1', name: 'vm201', status: 'running' },
        { vmid: 101, type: 'lxc', node: 'pve1', name: 'ct101', status: 'running' },
      ],
      tokens: [TOKEN],
      agent: lab.agentBackend,
      power: lab.powerBackend,
      agentTimeoutMs: 50,
      taskDelayMs: 0,
      ...opts,
    });
    t.after(() => sim.close());
    return sim;
  }

  async function execAndWait(sim: Sim, command: string[], input?: string): Promise<Status> {
    const form: Record<string, string | string[]> = { command };
    if (input !== undefined) form['input-data'] = input;
    const { pid } = await data<{ pid: number }>(sim, 'POST', `${VM}/agent/exec`, { form });
    assert.ok(Number.isInteger(pid) && pid > 1, `pid ${pid}`);
    for (let i = 0; i < 500; i++) {
      const st = await data<Status>(sim, 'GET', `${VM}/agent/exec-status`, { query: { pid } });
      if (st.exited === 1) return st;
      assert.deepEqual(st, { exited: 0 });
      await sleep(20);
    }
    throw new Error(`exec ${command.join(' ')} did not exit`);
  }

  test('ping answers {result:{}}; get-osinfo reads the guest', async (t) => {
    const sim = await simFor(t);
    assert.deepEqual(await data(sim, 'POST', `${VM}/agent/ping`), { result: {} });
    const info = await data<{ result: Record<string, string> }>(sim, 'GET', `${VM}/agent/get-osinfo`);
    assert.equal(info.result.id, 'debian');
    assert.equal(info.result['version-id'], '12');
    assert.equal(info.result['kernel-release'], os.release());
  });

  test('exec runs argv in the guest root without a shell, with stdin from input-data and qemu-ga’s environment', async (t) => {
    const sim = await simFor(t);
    const osRelease = await execAndWait(sim, ['cat', '/etc/os-release']);
    assert.equal(osRelease.exitcode, 0);
    assert.match(osRelease['out-data'] ?? '', /^ID=debian$/m);
    assert.equal(osRelease['out-truncated'], 0);
    assert.equal(osRelease['err-data'], undefined);

    const hostname = await execAndWait(sim, ['hostname']);
    assert.equal(hostname['out-data'], 'vm200\n');

    // no shell: `$HOME` and `;` reach echo as they are
    const literal = await execAndWait(sim, ['echo', '$HOME;', 'x']);
    assert.equal(literal['out-data'], '$HOME; x\n');

    const env = await execAndWait(sim, ['env']);
    assert.equal(env['out-data'], 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');

    const cwd = await execAndWait(sim, ['pwd']);
    assert.equal(cwd['out-data'], '/\n');

    const stdin = await execAndWait(sim, ['tr', 'a-z', 'A-Z'], 'hello ünïcode\n');
    assert.equal(stdin['out-data'], 'HELLO üNïCODE\n');

    const noInput = await execAndWait(sim, ['cat']);
    assert.equal(noInput.exitcode, 0, 'stdin is /dev/null without input-data');
    assert.equal(noInput['out-data'], undefined);

    // the file really is in the guest root
    await execAndWait(sim, ['/bin/sh', '-c', 'echo from-agent > /root/agent-file']);
    assert.equal(await lab.fileExists(200, '/root/agent-file'), true);
  });

  test('exit codes, stderr and signals are reported; exec-status is one-shot', async (t) => {
    const sim = await simFor(t);
    const failed = await execAndWait(sim, ['/bin/sh', '-c', 'echo oops >&2; exit 3']);
    assert.equal(failed.exitcode, 3);
    assert.equal(failed['err-data'], 'oops\n');
    assert.equal(failed['err-truncated'], 0);

    const killed = await execAndWait(sim, ['/bin/sh', '-c', 'kill -TERM $$']);
    assert.equal(killed.signal, 15);
    assert.equal(killed.exitcode, undefined);

    const { pid } = await data<{ pid: number }>(sim, 'POST', `${VM}/agent/exec`, { form: { command: 'true' } });
    let st: Status = { exited: 0 };
    while (st.exited === 0) st = await data<Status>(sim, 'GET', `${VM}/agent/exec-status`, { query: { pid } });
    assert.equal(st.exitcode, 0);
    const again = await call(sim, 'GET', `${VM}/agent/exec-status`, { query: { pid } });
    assert.equal(again.status, 500);
    assert.equal(again.json?.message, `Agent error: PID ${pid} does not exist\n`);

    const missing = await call(sim, 'POST', `${VM}/agent/exec`, { form: { command: ['no-such-program', 'x'] } });
    assert.equal(missing.status, 500);
    assert.match(missing.json?.message ?? '', /^Agent error: Failed to execute child process “no-such-program”/);
  });

  test('each stream is capped and flagged truncated', async (t) => {
    const sim = await simFor(t, { agentMaxOutput: 1000 });
    const big = await execAndWait(sim, ['/bin/sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" a; echo err >&2']);
    assert.equal(big.exitcode, 0);
    assert.equal(big['out-data'], 'a'.repeat(1000));
    assert.equal(big['out-truncated'], 1);
    assert.equal(big['err-data'], 'err\n');
    assert.equal(big['err-truncated'], 0);
  });

  test('parameters: command is a required array, input-data at most 65536 characters', async (t) => {
    const sim = await simFor(t);
    const none = await call(sim, 'POST', `${VM}/agent/exec`, { form: {} });
    assert.equal(none.status, 400);
    assert.deepEqual(none.json?.errors, { command: 'property is missing and it is not optional' });
    const long = await call(sim, 'POST', `${VM}/agent/exec`, {
      form: { command: 'cat', 'input-data': 'x'.repeat(65537) },
    });
    assert.equal(long.status, 400);
    assert.deepEqual(long.json?.errors, { 'input-data': 'value may only be 65536 characters long' });
    const json = await call(sim, 'POST', `${VM}/agent/exec`, { json: { command: ['echo', 'a b'] } });
    assert.equal(json.status, 200);
  });

  test('preconditions in PVE’s order and texts', async (t) => {
    const sim = await simFor(t);
    const off = await call(sim, 'POST', '/nodes/pve1/qemu/201/agent/ping');
    assert.equal(off.status, 500);
    assert.equal(off.statusText, 'No QEMU guest agent configured');
    assert.equal(off.json?.message, 'No QEMU guest agent configured\n');

    sim.setGuest(200, { status: 'stopped' });
    const stopped = await call(sim, 'POST', `${VM}/agent/exec`, { form: { command: 'true' } });
    assert.equal(stopped.json?.message, 'VM 200 is not running\n');
    sim.setGuest(200, { status: 'running' });

    sim.hangAgent(200, true);
    const started = Date.now();
    const hung = await call(sim, 'POST', `${VM}/agent/ping`);
    assert.equal(hung.status, 500);
    assert.equal(hung.json?.message, 'QEMU guest agent is not running\n');
    assert.ok(Date.now() - started >= 45, 'the failed ping waits agentTimeoutMs');
    sim.hangAgent(200, false);
    assert.equal((await call(sim, 'POST', `${VM}/agent/ping`)).status, 200);

    const missing = await call(sim, 'POST', '/nodes/pve1/qemu/999/agent/ping');
    assert.equal(missing.json?.message, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n");
  });

  test('a hung agent keeps its processes running', async (t) => {
    const sim = await simFor(t);
    const { pid } = await data<{ pid: number }>(sim, 'POST', `${VM}/agent/exec`, {
      form: { command: ['/bin/sh', '-c', 'sleep 0.5; echo done > /root/hung-file'] },
    });
    sim.hangAgent(200, true);
    const st = await call(sim, 'GET', `${VM}/agent/exec-status`, { query: { pid } });
    assert.equal(st.json?.message, 'QEMU guest agent is not running\n');
    await sleep(800);
    sim.hangAgent(200, false);
    const done = await data<Status>(sim, 'GET', `${VM}/agent/exec-status`, { query: { pid } });
    assert.equal(done.exited, 1);
    assert.equal(await lab.fileExists(200, '/root/hung-file'), true);
  });

  test('restartAgent kills the agent’s direct child; a setsid child survives and writes its file', async (t) => {
    const sim = await simFor(t);
    await execAndWait(sim, ['rm', '-f', '/root/direct', '/root/detached']);
    const direct = await data<{ pid: number }>(sim, 'POST', `${VM}/agent/exec`, {
      form: { command: ['/bin/sh', '-c', 'sleep 1; echo direct > /root/direct'] },
    });
    const detacher = await execAndWait(sim, [
      '/bin/sh',
      '-c',
      'setsid /bin/sh -c "sleep 1; echo detached > /root/detached" </dev/null >/dev/null 2>&1 & echo started',
    ]);
    assert.equal(detacher['out-data'], 'started\n');
    await sleep(100);
    await sim.restartAgent(200, { downMs: 300 });
    const down = await call(sim, 'POST', `${VM}/agent/ping`);
    assert.equal(down.json?.message, 'QEMU guest agent is not running\n');
    await sleep(400);
    assert.equal((await call(sim, 'POST', `${VM}/agent/ping`)).status, 200);
    // the restarted agent knows nothing of the old pid
    const old = await call(sim, 'GET', `${VM}/agent/exec-status`, { query: { pid: direct.pid } });
    assert.equal(old.json?.message, `Agent error: PID ${direct.pid} does not exist\n`);
    await sleep(1000);
    assert.equal(await lab.fileExists(200, '/root/direct'), false, 'the direct child was killed');
    const out = await execAndWait(sim, ['cat', '/root/detached']);
    assert.equal(out['out-data'], 'detached\n', 'the setsid child survived');
  });

  test('reboot: a qmreboot task that ends once the VM went down; uptime resets; the agent comes back late', async (t) => {
    const sim = await simFor(t);
    await execAndWait(sim, ['/bin/sh', '-c', 'echo x > /run/marker']);
    sim.setAgentBootDelay(600);
    await sleep(1100);
    const before = await data<Record<string, unknown>>(sim, 'GET', `${VM}/status/current`);
    assert.equal(before.agent, 1);
    assert.equal(before.qmpstatus, 'running');
    assert.ok((before.uptime as number) >= 1, `uptime ${before.uptime}`);

    const upid = await data<string>(sim, 'POST', `${VM}/status/reboot`, { form: { timeout: 30 } });
    assert.match(upid, /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmreboot:200:root@pam!pvepatch:$/);
    const st = await waitStopped(sim, 'pve1', upid);
    assert.equal(st.exitstatus, 'OK');
    for (let i = 0; i < 100 && (await lab.status(200)) !== 'running'; i++) await sleep(50);
    for (let i = 0; i < 100 && sim.guest(200).status !== 'running'; i++) await sleep(50);
    const after = await data<Record<string, unknown>>(sim, 'GET', `${VM}/status/current`);
    assert.equal(after.status, 'running');
    assert.ok((after.uptime as number) < (before.uptime as number), `uptime ${after.uptime}`);
    const early = await call(sim, 'POST', `${VM}/agent/ping`);
    assert.equal(early.json?.message, 'QEMU guest agent is not running\n', 'the agent is not up yet');
    await sleep(700);
    assert.equal((await call(sim, 'POST', `${VM}/agent/ping`)).status, 200);
    assert.equal(await lab.fileExists(200, '/run/marker'), false, '/run was emptied by the boot');
  });

  test('reboot of a container is a vzreboot; refusals: not running, locked, and a shutdown timeout', async (t) => {
    const sim = await simFor(t);
    const upid = await data<string>(sim, 'POST', '/nodes/pve1/lxc/101/status/reboot');
    assert.match(upid, /:vzreboot:101:/);
    assert.equal((await waitStopped(sim, 'pve1', upid)).exitstatus, 'OK');
    for (let i = 0; i < 100 && sim.guest(101).status !== 'running'; i++) await sleep(50);
    assert.equal(await lab.status(101), 'running');

    sim.setGuest(200, { lock: 'backup' });
    const locked = await data<string>(sim, 'POST', `${VM}/status/reboot`);
    assert.equal((await waitStopped(sim, 'pve1', locked)).exitstatus, 'VM is locked (backup)');
    sim.setGuest(200, { lock: undefined });

    sim.setGuest(201, { status: 'stopped' });
    const notRunning = await call(sim, 'POST', '/nodes/pve1/qemu/201/status/reboot');
    assert.equal(notRunning.status, 500);
    assert.equal(notRunning.json?.message, 'VM 201 not running\n');

    lab.powerBackend.ignoreShutdown(200, true);
    t.after(() => lab.powerBackend.ignoreShutdown(200, false));
    const timeout = await data<string>(sim, 'POST', `${VM}/status/reboot`, { form: { timeout: 0 } });
    assert.equal((await waitStopped(sim, 'pve1', timeout)).exitstatus, 'VM quit/powerdown failed - got timeout');
    assert.equal(await lab.status(200), 'running');
  });

  test('rebootNeverReturns: the VM goes down and stays down', async (t) => {
    const sim = await simFor(t);
    sim.rebootNeverReturns(200);
    const upid = await data<string>(sim, 'POST', `${VM}/status/reboot`);
    assert.equal((await waitStopped(sim, 'pve1', upid)).exitstatus, 'OK');
    await sleep(800);
    assert.equal(await lab.status(200), 'stopped');
    const st = await data<Record<string, unknown>>(sim, 'GET', `${VM}/status/current`);
    assert.equal(st.status, 'stopped');
    assert.equal(st.uptime, 0);
    const ping = await call(sim, 'POST', `${VM}/agent/ping`);
    assert.equal(ping.json?.message, 'VM 200 is not running\n');
  });

  test('PUT config: agent on a stopped VM at once, on a running one pending until the next boot; digest', async (t) => {
    const sim = await simFor(t);
    const conf = await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve1/qemu/201/config');
    const bad = await call(sim, 'PUT', '/nodes/pve1/qemu/201/config', { form: { agent: 'enabled=maybe' } });
    assert.equal(bad.status, 400);
    assert.match(
      bad.json?.errors?.agent ?? '',
      /^invalid format - format error\nenabled: type check \('boolean'\) failed/,
    );
    const stale = await call(sim, 'PUT', '/nodes/pve1/qemu/201/config', {
      form: { agent: '1', digest: 'a'.repeat(40) },
    });
    assert.equal(stale.json?.message, 'detected modified configuration - file changed by other user? Try again.\n');

    assert.equal(
      await data(sim, 'PUT', '/nodes/pve1/qemu/201/config', { form: { agent: '1', digest: String(conf.digest) } }),
      null,
    );
    assert.equal((await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve1/qemu/201/config')).agent, '1');
    const current = await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve1/qemu/201/config', {
      query: { current: 1 },
    });
    assert.equal(current.agent, undefined, 'pending while running');
    assert.equal(
      (await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve1/qemu/201/status/current')).agent,
      undefined,
    );

    const upid = await data<string>(sim, 'POST', '/nodes/pve1/qemu/201/status/reboot');
    await waitStopped(sim, 'pve1', upid);
    for (let i = 0; i < 100 && sim.guest(201).status !== 'running'; i++) await sleep(50);
    assert.equal((await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve1/qemu/201/status/current')).agent, 1);
    assert.deepEqual(await data(sim, 'POST', '/nodes/pve1/qemu/201/agent/ping'), { result: {} });
    assert.equal(sim.requests.filter((r) => r.status === 501).length, 0);
  });
});
