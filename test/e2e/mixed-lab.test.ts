import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GuestPlan, RunReport } from '../../daemon/engine/types.js';
import { type Env, startEnv } from './harness.js';

const GUESTS = [
  { vmid: 701, flavour: 'debian', driver: 'apt', kernel: null },
  { vmid: 702, flavour: 'fedora', driver: 'dnf', kernel: 'kernel-core' },
  { vmid: 703, flavour: 'opensuse', driver: 'zypper', kernel: 'kernel-default' },
  { vmid: 704, flavour: 'arch', driver: 'pacman', kernel: 'linux' },
] as const;

describe('one run over a mixed lab: Debian, Fedora-, SUSE- and Arch-like containers', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({ guests: GUESTS.map((g) => ({ vmid: g.vmid, flavour: g.flavour, hostname: g.flavour })) });
  });
  after(() => env?.close());

  it('plans each guest with its own package manager', async () => {
    const r = await env.cli('--output-format', 'json', 'plan', 'all');
    assert.equal(r.code, 0, r.err);
    const plans = JSON.parse(r.out) as GuestPlan[];
    for (const g of GUESTS) {
      const p = plans.find((x) => x.vmid === g.vmid)!;
      assert.equal(p.skip_reason, null, `${g.flavour}: ${p.skip_reason}`);
      assert.equal(p.driver, g.driver);
      assert.ok(p.updates_available >= 5, `${g.flavour} has its demo updates`);
      // the whole plan (enter, detect, check, refresh, list) in one guest shell session
      assert.equal(p.exec?.round_trips, 1, `${g.flavour}: one round trip for the plan`);
      assert.ok((p.exec?.commands ?? 0) > 3, `${g.flavour}: several commands in that session`);
      if (g.kernel)
        assert.ok(
          p.packages.some((u) => u.package === g.kernel),
          `${g.flavour} plans ${g.kernel}`,
        );
    }
  });

  it('patches them all in one run and reports per guest', async () => {
    const r = await env.cli('--output-format', 'json', 'run', 'all', '--exclude', 'demo-tool');
    assert.equal(r.code, 0, `${r.out}\n${r.err}`);
    const report = JSON.parse(r.out) as RunReport;
    for (const g of GUESTS) {
      const res = report.guests.find((x) => x.vmid === g.vmid)!;
      assert.equal(res.outcome, 'updated', `${g.flavour}: ${res.reason}`);
      assert.equal(res.driver, g.driver);
      assert.ok(res.snapshot?.name.startsWith('pvepatch-'));
      // planning (detect, inspect, updates) and patching (patch, verify): one shell session each, the same budget for every family
      assert.equal(res.exec?.round_trips, 2, `${g.flavour}: two round trips for the whole run`);
      const t = res.timing!;
      assert.ok(t.guest_ms > 0 && t.tasks_ms > 0, `${g.flavour}: time in the guest and in the snapshot task`);
      assert.equal(t.total_ms, t.guest_ms + t.tasks_ms + t.queued_ms + t.other_ms, 'the parts add up');
      assert.equal(res.reboot_required, true, `${g.flavour} needs a reboot (demo-app / kernel)`);
      assert.match((await env.lab.packageVersion(g.vmid, 'demo-tool')) ?? '', /^1\.0\b/, `${g.flavour} kept demo-tool`);
      assert.match(
        (await env.lab.packageVersion(g.vmid, 'demo-lib')) ?? '',
        /^1\.1\b/,
        `${g.flavour} upgraded demo-lib`,
      );
    }
    const again = await env.cli('--output-format', 'json', 'run', 'all', '--exclude', 'demo-tool');
    assert.equal(again.code, 2, 'a second run has nothing to update');
  });

  it('refuses a security-only run where the family has no security metadata', async () => {
    const r = await env.cli('--output-format', 'json', 'run', '704', '--security-only');
    assert.equal(r.code, 5);
    assert.match((JSON.parse(r.out) as RunReport).guests[0]!.reason!, /pacman publishes no security metadata/);
  });
});
