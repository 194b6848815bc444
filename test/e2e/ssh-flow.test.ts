import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../../daemon/engine/types.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import { Sshd } from '../guests/sshd.js';
import { type Env, startEnv, versions } from './harness.js';

const all11 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.1']));

/** A VM without a guest agent, patched over SSH (a real sshd on 127.0.0.1 serving the guest root). */
describe('patching a VM over SSH', () => {
  let env: Env;
  let sshd: Sshd;
  const policyDir = mkdtempSync(join(tmpdir(), 'pvepatch-policy-'));
  const policyFile = join(policyDir, 'guests.conf');

  before(async () => {
    env = await startEnv({ guests: [], vms: [{ vmid: 331, agent: false }], config: { policy_file: policyFile } });
    sshd = await Sshd.start({ lab: env.lab, vmid: 331, nonRoot: false });
    const lines = [
      'guest: 331',
      '\ttransport ssh',
      '\taddress 127.0.0.1',
      `\tssh-port ${sshd.port}`,
      `\tssh-key ${sshd.clientKey}`,
      '',
    ];
    writeFileSync(policyFile, lines.join('\n'), { mode: 0o600 });
  });
  after(async () => {
    await sshd?.destroy();
    await env?.close();
    rmSync(policyDir, { recursive: true, force: true });
  });

  it('patches the VM through SSH, recording its host key on first use', async () => {
    const r = await env.cli('--output-format', 'json', 'run', '331');
    assert.equal(r.code, 0, r.err);
    const g = (JSON.parse(r.out) as RunReport).guests[0]!;
    assert.equal(g.outcome, 'updated', g.reason);
    assert.equal(g.transport, 'ssh');
    assert.equal(g.protection, 'snapshot');
    assert.deepEqual(await versions(env.lab, 331, DEMO_PACKAGE_NAMES), all11);
    assert.equal(g.exec?.round_trips, 2, 'one SSH session per stage: plan and patch');
    const known = join(env.stateDir, 'ssh_known_hosts.json');
    assert.equal(statSync(known).mode & 0o777, 0o600);
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
