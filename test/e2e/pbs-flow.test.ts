import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../../daemon/engine/types.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import { makePbsGuest, setRunningPbsTasks } from '../guests/lab-pbs.js';
import { makePbsTask } from '../sim-pbs/upid.js';
import { type Env, startEnv, versions } from './harness.js';

const all10 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.0']));
const all11 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.1']));

/** A Proxmox Backup Server guest (`role pbs`): refused while PBS works or lacks space; otherwise patched, rebooted and summarised. */
describe('patching a Proxmox Backup Server guest', () => {
  let env: Env;
  const policyText = (minFreeGb: number) => `guest: 341\n\trole pbs\n\treboot always\n\tpbs-min-free-gb ${minFreeGb}\n`;
  const policy = (minFreeGb: number) => env.writePolicy(policyText(minFreeGb));
  const run = async () => {
    const r = await env.cli('--output-format', 'json', 'run', '341');
    return { code: r.code, err: r.err, g: (JSON.parse(r.out) as RunReport).guests[0]! };
  };

  before(async () => {
    env = await startEnv({ guests: [{ vmid: 341, hostname: 'pbs1' }], policy: policyText(1) });
    await makePbsGuest(env.lab, 341);
  });
  after(() => env?.close());

  it('refuses while PBS runs a task, naming it', async () => {
    const task = makePbsTask({ workerType: 'garbage_collection', workerId: 'store1' });
    await setRunningPbsTasks(env.lab, 341, [task]);
    const { code, g } = await run();
    assert.equal(code, 5);
    assert.equal(g.outcome, 'refused');
    assert.match(g.reason ?? '', /unable to patch PBS 341 - .*garbage_collection/);
    assert.deepEqual(await versions(env.lab, 341, DEMO_PACKAGE_NAMES), all10);
    await setRunningPbsTasks(env.lab, 341, []);
  });

  it('refuses when the root file system has less free space than pbs-min-free-gb', async () => {
    policy(1_000_000);
    const { code, g } = await run();
    assert.equal(code, 5);
    assert.equal(g.outcome, 'refused');
    assert.match(g.reason ?? '', /unable to patch PBS 341 - .*1000000 GiB/);
    assert.equal(env.sim.guest(341).snapshots.length, 0);
    policy(1);
  });

  it('patches, reboots from PVE and reports services, versions and last tasks', async () => {
    const { code, err, g } = await run();
    assert.equal(code, 0, `${err} ${g.reason}`);
    assert.equal(g.outcome, 'updated');
    assert.deepEqual(await versions(env.lab, 341, DEMO_PACKAGE_NAMES), all11);
    assert.equal(g.reboot?.status, 'completed');
    const health = g.pbs?.health as {
      ok: boolean;
      services: { name: string; active: boolean; enabled: boolean }[];
      versions: string[];
    };
    assert.equal(health.ok, true);
    assert.deepEqual(
      health.services.map((s) => [s.name, s.active, s.enabled]),
      [
        ['proxmox-backup', true, true],
        ['proxmox-backup-proxy', true, true],
      ],
    );
    assert.match(health.versions[0] ?? '', /^proxmox-backup-server 3\.4\.1-1/);
  });
});
