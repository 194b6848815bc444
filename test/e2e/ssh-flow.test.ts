import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../../daemon/engine/types.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import { installLabServices, labUnitState } from '../guests/lab-services.js';
import { Sshd } from '../guests/sshd.js';
import { type Env, startEnv, versions } from './harness.js';

const all11 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.1']));

/** A VM without a guest agent, patched over SSH (a real sshd on 127.0.0.1 serving the guest root). */
describe('patching a VM over SSH', () => {
  let env: Env;
  let sshd: Sshd;

  before(async () => {
    env = await startEnv({ guests: [], vms: [{ vmid: 331, agent: false }] });
    sshd = await Sshd.start({ lab: env.lab, vmid: 331, nonRoot: false });
    const lines = [
      'guest: 331',
      '\ttransport ssh',
      '\taddress 127.0.0.1',
      `\tssh-port ${sshd.port}`,
      `\tssh-key ${sshd.clientKey}`,
      '',
    ];
    env.writePolicy(lines.join('\n'));
  });
  after(async () => {
    await sshd?.destroy();
    await env?.close();
  });

  it('patches the VM through SSH, recording its host key on first use', async () => {
    const r = await env.cli('--output-format', 'json', 'run', '331');
    assert.equal(r.code, 0, `${r.err} ${r.out.slice(0, 2000)}`);
    const g = (JSON.parse(r.out) as RunReport).guests[0]!;
    assert.equal(g.outcome, 'updated', g.reason);
    assert.equal(g.transport, 'ssh');
    assert.equal(g.protection, 'snapshot');
    assert.deepEqual(await versions(env.lab, 331, DEMO_PACKAGE_NAMES), all11);
    assert.equal(g.exec?.round_trips, 2, 'one SSH session per stage: plan and patch');
    const known = join(env.stateDir, 'ssh_known_hosts.json');
    assert.equal(statSync(known).mode & 0o777, 0o600);
  });

  it('agent ensure installs and starts qemu-guest-agent over SSH and sets agent: 1 for the next cold start', async () => {
    await installLabServices(env.lab, 331, []); // the guest's service manager (a lab stand-in for systemd)
    const r = await env.cli('--output-format', 'json', 'agent', 'ensure', '331');
    const [row] = JSON.parse(r.out) as {
      configured: boolean;
      responding: boolean;
      actions: string[];
      detail: string;
    }[];
    assert.deepEqual(row!.actions, [
      'apt-get update',
      'env DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-guest-agent',
      'systemctl enable qemu-guest-agent',
      'systemctl start qemu-guest-agent',
      "set 'agent: 1' in the VM config - effective after the VM's next cold start (shutdown and start, not a reboot)",
    ]);
    assert.equal(await env.lab.dpkgVersion(331, 'qemu-guest-agent'), '1.0');
    assert.equal(await labUnitState(env.lab, 331, 'qemu-guest-agent'), 'active');
    const put = env.sim.requests.find((q) => q.method === 'PUT' && q.path === '/nodes/pve1/qemu/331/config');
    assert.equal(put?.status, 200);
    assert.equal(put?.body.agent, '1');
    // PVE applies `agent` at the VM's next start: until then the agent is still not configured
    assert.equal(row!.configured, false);
    assert.match(row!.detail, /'agent: 1' is set but pending - effective after the VM's next cold start/);
    assert.equal(r.code, 5);
  });

  it('refuses the VM when its host key changed, and runs nothing', async () => {
    await sshd.rotateHostKey();
    const before = env.sim.requests.length;
    const r = await env.cli('--output-format', 'json', 'run', '331');
    assert.equal(r.code, 5, r.err);
    const g = (JSON.parse(r.out) as RunReport).guests[0]!;
    assert.equal(g.outcome, 'refused');
    assert.match(g.reason ?? '', /host key .*changed/i);
    assert.match(g.reason ?? '', /127\.0\.0\.1/);
    const snapshots = env.sim.requests.slice(before).filter((q) => q.method === 'POST' && q.path.endsWith('/snapshot'));
    assert.equal(snapshots.length, 0, 'nothing was snapshotted or changed');
  });
});
