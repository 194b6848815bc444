import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPvepatchError } from '../../daemon/core/errors.js';
import { GuestExec } from '../../daemon/drivers/shared/guest-exec.js';
import { ProxmoxClient } from '../../daemon/proxmox/client.js';
import { QgaTransport } from '../../daemon/transports/qga/index.js';
import { RUNNER, RUNNER_SHA256 } from '../../daemon/transports/qga/runner.js';
import { Lab } from '../guests/lab.js';
import { startSim } from '../sim/server.js';
import type { Sim } from '../sim/types.js';

const ID = 'pvepatch@pve!qga';
const SECRET = '8b0c6f0e-0d1e-4c1a-9d55-3f2f4c6a1b7e';

/** The qga transport through the simulated PVE API into real lab guests (VM 311 agent on, VM 312 off). */
describe('qga transport on real guests through the API', () => {
  let lab: Lab;
  let sim: Sim;
  let client: ProxmoxClient;
  const vm = (vmid: number, runner?: { text: string; sha256: string }) =>
    new QgaTransport(
      client,
      { vmid, node: 'pve1', type: 'qemu' },
      { defaultTimeoutMs: 20_000, ...(runner ? { runner } : {}) },
    );

  before(async () => {
    lab = await Lab.create({
      dir: await mkdtemp(path.join(os.tmpdir(), 'pvepatch-qga-')),
      guests: [
        { vmid: 311, kind: 'vm' },
        { vmid: 312, kind: 'vm' },
      ],
    });
    sim = await startSim({
      guests: [
        { vmid: 311, type: 'qemu', node: 'pve1', name: 'vm311', status: 'running', config: { agent: '1' } },
        { vmid: 312, type: 'qemu', node: 'pve1', name: 'vm312', status: 'running' },
      ],
      tokens: [{ id: ID, secret: SECRET }],
      agent: lab.agentBackend,
      power: lab.powerBackend,
      agentMaxOutput: 64 * 1024,
    });
    client = new ProxmoxClient({
      url: sim.url,
      token: `${ID}=${SECRET}`,
      fingerprint: sim.fingerprint,
      timeoutMs: 5000,
    });
  });
  after(async () => {
    await client?.close();
    await sim?.close();
    await lab?.destroy();
  });

  it('runs argv in the guest with stdin, env, both streams and the exit code', async () => {
    const r = await vm(311).exec(['sh', '-c', 'read x; echo "$x $GREETING"; echo err >&2; exit 4'], {
      input: 'hello\n',
      env: { GREETING: "it's me; rm -rf /" },
    });
    assert.equal(r.exitCode, 4);
    assert.equal(r.stdout, "hello it's me; rm -rf /\n");
    assert.equal(r.stderr, 'err\n');
    const osr = await vm(311).exec(['cat', '/etc/os-release']);
    assert.match(osr.stdout, /ID=debian/);
  });

  it('answers 127 for a program the guest does not have, as a shell would', async () => {
    const r = await vm(311).exec(['no-such-program', 'x']);
    assert.equal(r.exitCode, 127);
  });

  it('treats the agent truncating output as truncated (GuestExec fails the command)', async () => {
    const exec = new GuestExec(vm(311));
    await assert.rejects(
      exec.run(['head', '-c', '200000', '/dev/zero']),
      (e) => isPvepatchError(e) && e.code === 'output-invalid',
    );
  });

  it('times out a command, kills it in the guest and says so', async () => {
    await assert.rejects(
      vm(311).exec(['sleep', '30'], { timeoutMs: 800 }),
      /unable to run 'sleep' in VM 311 - no exit after 1s/,
    );
    const ps = await vm(311).exec([
      'sh',
      '-c',
      'for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr "\\0" " "; echo; done',
    ]);
    assert.doesNotMatch(ps.stdout, /^sleep 30 $/m, 'the sleep was killed');
  });

  it('runs detached work through the runner and streams its output', async () => {
    const chunks: string[] = [];
    const r = await vm(311).exec(['sh', '-c', 'echo one; sleep 1; echo two; exit 3'], {
      detach: true,
      onOutput: (_s, c) => chunks.push(c),
    });
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout, 'one\ntwo\n');
    assert.equal(chunks.join(''), 'one\ntwo\n');
    const boot = sim.requests.find(
      (q) => q.route?.endsWith('/agent/exec') && JSON.stringify(q.body).includes(RUNNER_SHA256),
    );
    assert.ok(boot, 'the runner went out with its checksum');
    const left = await vm(311).exec(['sh', '-c', 'ls /var/tmp/pvepatch-jobs | wc -l']);
    assert.equal(left.stdout.trim(), '0', 'the job directory was removed');
  });

  it('finishes detached work across an agent restart in the middle', async () => {
    const t = vm(311);
    const run = t.exec(['sh', '-c', 'sleep 2; echo survived > /root/detached; echo done'], { detach: true });
    await new Promise((r) => setTimeout(r, 700));
    await sim.restartAgent(311, { downMs: 1200 });
    const r = await run;
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'done\n');
    assert.equal((await lab.execOk(311, ['cat', '/root/detached'])).stdout, 'survived\n');
    assert.ok(
      sim.requests.some((q) => q.status === 500 && q.route?.includes('/agent/')),
      'polls failed while the agent was down',
    );
  });

  it('refuses a tampered runner: nothing runs and the mismatch is reported', async () => {
    const tampered = { text: RUNNER.replace('"$@"', 'touch /root/tampered; "$@"'), sha256: RUNNER_SHA256 };
    await assert.rejects(
      vm(311, tampered).exec(['touch', '/root/should-not-exist'], { detach: true }),
      /unable to start 'touch' in VM 311 - the guest refused the runner: pvepatch: runner checksum mismatch/,
    );
    assert.equal(await lab.fileExists(311, '/root/tampered'), false);
    assert.equal(await lab.fileExists(311, '/root/should-not-exist'), false);
  });

  it('says what to do when the agent is not configured, the VM is stopped or the agent is silent', async () => {
    await assert.rejects(
      vm(312).exec(['true']),
      /VM 312 through the guest agent - No QEMU guest agent configured; enable it with 'qm set <vmid> --agent 1'/,
    );
    sim.hangAgent(311, true);
    try {
      await assert.rejects(
        vm(311).exec(['true']),
        /QEMU guest agent is not running; install and start qemu-guest-agent/,
      );
    } finally {
      sim.hangAgent(311, false);
    }
  });
});
