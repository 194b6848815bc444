import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SavedPlan } from '../../daemon/approvals/types.js';
import type { RunReport } from '../../daemon/engine/types.js';
import { type Env, startEnv } from './harness.js';

/** Approved plans on real Debian containers: exactly the approved versions, or refused with the diff. */
describe('approved plans', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({ guests: [{ vmid: 195 }, { vmid: 196 }] });
  });
  after(() => env?.close());
  const json = async <T>(...argv: string[]): Promise<T> => {
    const r = await env.cli('--output-format', 'json', ...argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
    return JSON.parse(r.out) as T;
  };
  let plan: SavedPlan;

  it('saves a plan with every version, and refuses to run it before approval', async () => {
    plan = await json<SavedPlan>('plan', 'save', '195', '196');
    assert.equal(plan.state, 'saved');
    assert.deepEqual(
      plan.guests.map((g) => [
        g.vmid,
        g.packages.map((p) => `${p.package} ${p.current_version}->${p.new_version}`).sort(),
      ]),
      [195, 196].map((v) => [
        v,
        ['demo-app 1.0->1.1', 'demo-conf 1.0->1.1', 'demo-lib 1.0->1.1', 'demo-sec 1.0->1.1', 'demo-tool 1.0->1.1'],
      ]),
    );
    const early = await env.cli('run', '--plan', plan.id);
    assert.equal(early.code, 3);
    assert.match(early.err, new RegExp(`unable to run plan '${plan.id}' - it is not approved`));
    const approved = await json<SavedPlan>('plan', 'approve', plan.id);
    assert.equal(approved.state, 'approved');
    assert.equal(approved.approved_by, 'root@pam');
  });

  it('installs exactly the approved versions after newer ones appeared; a guest that changed is refused with the diff', async () => {
    await env.lab.setRepo('v3', { update: true });
    // someone upgrades demo-app in 196 by hand after the approval
    await env.lab.execOk(196, ['apt-get', 'install', '-y', '--only-upgrade', 'demo-app=1.1']);
    const r = await env.cli('--output-format', 'json', 'run', '--plan', plan.id);
    assert.equal(r.code, 5, `${r.out}\n${r.err}`);
    const rep = JSON.parse(r.out) as RunReport;
    const g195 = rep.guests.find((g) => g.vmid === 195)!;
    const g196 = rep.guests.find((g) => g.vmid === 196)!;
    assert.equal(g195.outcome, 'updated');
    for (const p of ['demo-app', 'demo-conf', 'demo-lib', 'demo-sec', 'demo-tool'])
      assert.equal(await env.lab.dpkgVersion(195, p), '1.1', `195 ${p}: the approved version, not 1.2`);
    assert.equal(g196.outcome, 'refused');
    assert.match(
      g196.reason ?? '',
      /the guest changed since the plan was approved - demo-app: approved 1\.0 -> 1\.1, now no update pending/,
    );
    assert.equal(await env.lab.dpkgVersion(196, 'demo-lib'), '1.0', '196 untouched');
    const saved = await json<SavedPlan>('plan', 'show', plan.id);
    assert.deepEqual(saved.runs, [rep.id]);
  });
});
