import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SavedPlan } from '../../daemon/approvals/types.js';
import type { RunReport } from '../../daemon/engine/types.js';
import type { Rollout } from '../../daemon/rollouts/types.js';
import type { ScheduleView } from '../../daemon/schedule/service.js';
import { type Env, startEnv } from './harness.js';

const DEMO = ['demo-app', 'demo-conf', 'demo-lib', 'demo-sec', 'demo-tool'];

/**
 * Approved plans on real guests of every pinning family: exactly the approved versions even after
 * newer ones appeared (apt, dnf, zypper), the pacman guest refused with the diff, and a guest that
 * changed by hand refused with the diff.
 */
describe('approved plans', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({
      guests: [
        { vmid: 194 },
        { vmid: 195 },
        { vmid: 196 },
        { vmid: 197, flavour: 'fedora' },
        { vmid: 198, flavour: 'opensuse' },
        { vmid: 199, flavour: 'arch' },
      ],
    });
  });
  after(() => env?.close());
  const json = async <T>(...argv: string[]): Promise<T> => {
    const r = await env.cli('--output-format', 'json', ...argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
    return JSON.parse(r.out) as T;
  };
  let plan: SavedPlan;

  it('saves a plan with every version, and refuses to run it before approval', async () => {
    plan = await json<SavedPlan>('plan', 'save', '195-199');
    assert.equal(plan.state, 'saved');
    for (const vmid of [195, 196]) {
      const g = plan.guests.find((x) => x.vmid === vmid)!;
      assert.deepEqual(g.packages.map((p) => `${p.package} ${p.current_version}->${p.new_version}`).sort(), [
        'demo-app 1.0->1.1',
        'demo-conf 1.0->1.1',
        'demo-lib 1.0->1.1',
        'demo-sec 1.0->1.1',
        'demo-tool 1.0->1.1',
      ]);
    }
    for (const vmid of [197, 198, 199]) {
      const lib = plan.guests.find((x) => x.vmid === vmid)?.packages.find((p) => p.package === 'demo-lib');
      assert.match(lib?.new_version ?? '', /^1\.1-1/, `${vmid}: ${JSON.stringify(lib)}`);
    }
    const early = await env.cli('run', '--plan', plan.id);
    assert.equal(early.code, 3);
    assert.match(early.err, new RegExp(`unable to run plan '${plan.id}' - it is not approved`));
    const approved = await json<SavedPlan>('plan', 'approve', plan.id);
    assert.equal(approved.state, 'approved');
    assert.equal(approved.approved_by, 'root@pam');
  });

  it('an apply schedule that requires approval saves a plan, and installs it once approved, after newer versions appeared', async () => {
    const bad = await env.cli(
      'schedule',
      'add',
      'x',
      '194',
      '--cron',
      '0 3 * * *',
      '--window',
      '60',
      '--require-approval',
    );
    assert.equal(bad.code, 3);
    assert.match(bad.err, /invalid schedule 'x' - require_approval needs mode apply/);
    const add = ['schedule', 'add', 'approved', '194', '--cron', '0 3 * * *', '--window', '60', '--mode', 'apply'];
    const s = await json<ScheduleView>(...add, '--require-approval');
    assert.equal(s.require_approval, true);
    const first = await json<ScheduleView & { ran: string }>('schedule', 'run', 'approved');
    const saved = /saved plan (plan-\S+) \(5 update\(s\) on 1 guest\(s\)\)/.exec(first.ran)?.[1];
    assert.ok(saved, first.ran);
    assert.equal(first.awaiting_approval, saved);
    assert.deepEqual(first.rollouts, [], 'nothing installed without approval');
    // the next window without an approval saves a fresh plan in place of the old one
    const second = await json<ScheduleView & { ran: string }>('schedule', 'run', 'approved');
    const id = second.awaiting_approval!;
    assert.notEqual(id, saved);
    assert.equal((await env.cli('plan', 'show', saved)).code, 3, 'the superseded plan is gone');
    const p = await json<SavedPlan>('plan', 'approve', id);
    assert.equal(p.schedule, 'approved');
    assert.deepEqual(
      p.guests[0]!.packages.map((x) => `${x.package} ${x.new_version}`).sort(),
      DEMO.map((x) => `${x} 1.1`),
    );
    await env.lab.setRepo('v3', { update: true });
    const third = await json<ScheduleView & { ran: string }>('schedule', 'run', 'approved');
    assert.match(third.ran, new RegExp(`started rollout (rollout-\\S+) with approved plan ${id}`));
    let ro = await json<Rollout>('rollout', 'show', third.rollouts[0]!);
    for (let i = 0; i < 300 && ro.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      ro = await json<Rollout>('rollout', 'show', ro.id);
    }
    assert.equal(ro.state, 'completed', JSON.stringify(ro.guests));
    assert.equal(ro.options.plan, id);
    for (const x of DEMO) assert.equal(await env.lab.dpkgVersion(194, x), '1.1', `194 ${x}: approved, not 1.2`);
    assert.deepEqual((await json<SavedPlan>('plan', 'show', id)).runs, ro.runs);
    // used: the next window saves a plan again (now for 1.2)
    const fourth = await json<ScheduleView & { ran: string }>('schedule', 'run', 'approved');
    assert.match(fourth.ran, /saved plan plan-\S+ \(2 update\(s\) on 1 guest\(s\)\)/);
    await json('schedule', 'rm', 'approved');
    await json('plan', 'rm', fourth.awaiting_approval!);
  });

  it('installs exactly the approved versions after newer ones appeared; pacman and a changed guest are refused with the diff', async () => {
    await env.lab.setRepo('v3', { update: true });
    // someone upgrades demo-app in 196 by hand after the approval
    await env.lab.execOk(196, ['apt-get', 'install', '-y', '--only-upgrade', 'demo-app=1.1']);
    const r = await env.cli('--output-format', 'json', 'run', '--plan', plan.id);
    assert.equal(r.code, 5, `${r.out}\n${r.err}`);
    const rep = JSON.parse(r.out) as RunReport;
    const outcome = (vmid: number) => rep.guests.find((g) => g.vmid === vmid)!;
    for (const p of DEMO)
      assert.equal(await env.lab.dpkgVersion(195, p), '1.1', `195 ${p}: the approved version, not 1.2`);
    for (const vmid of [197, 198]) {
      assert.equal(outcome(vmid).outcome, 'updated', `${vmid}: ${outcome(vmid).reason}`);
      for (const p of DEMO)
        assert.equal(await env.lab.packageVersion(vmid, p), '1.1-1', `${vmid} ${p}: approved, not 1.2`);
    }
    assert.equal(outcome(195).outcome, 'updated');
    assert.equal(outcome(196).outcome, 'refused');
    assert.match(
      outcome(196).reason ?? '',
      /the guest changed since the plan was approved - demo-app: approved 1\.0 -> 1\.1, now no update pending/,
    );
    assert.equal(await env.lab.dpkgVersion(196, 'demo-lib'), '1.0', '196 untouched');
    assert.equal(outcome(199).outcome, 'refused');
    assert.match(
      outcome(199).reason ?? '',
      /demo-lib: approved 1\.1-1, now 1\.2-1 offered \(this family cannot pin a version\)/,
    );
    assert.equal(await env.lab.packageVersion(199, 'demo-lib'), '1.0-1', 'the pacman guest untouched');
    const saved = await json<SavedPlan>('plan', 'show', plan.id);
    assert.deepEqual(saved.runs, [rep.id]);
  });
});
