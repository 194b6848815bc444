import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../../daemon/engine/types.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import { type Env, startEnv, versions } from './harness.js';

const all10 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.0']));
const all11 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.1']));

/** A guest whose storage cannot take snapshots: skipped by default, backed up with vzdump when the policy says so. */
describe('protection fallback when a snapshot is impossible', () => {
  let env: Env;
  const run = async () => {
    const r = await env.cli('--output-format', 'json', 'run', '131');
    return { code: r.code, err: r.err, g: (JSON.parse(r.out) as RunReport).guests[0]! };
  };

  before(async () => {
    env = await startEnv({ guests: [{ vmid: 131 }] });
    env.sim.failSnapshots(131, 'snapshot feature is not available');
  });
  after(() => env?.close());

  it('leaves the guest alone with fallback skip (the default) and says how to change that', async () => {
    const { code, g } = await run();
    assert.equal(code, 5);
    assert.equal(g.outcome, 'refused');
    assert.match(
      g.reason ?? '',
      /snapshot feature is not available; policy fallback is skip, so the guest is not patched/,
    );
    assert.deepEqual(await versions(env.lab, 131, DEMO_PACKAGE_NAMES), all10);
  });

  it('backs the guest up to the named storage first with fallback vzdump, then patches it', async () => {
    env.writePolicy('guest: 131\n\tfallback vzdump\n\tfallback-storage local-zfs\n');
    const { code, err, g } = await run();
    assert.equal(code, 0, `${err} ${g.reason}`);
    assert.equal(g.outcome, 'updated');
    assert.equal(g.protection, 'vzdump');
    assert.equal(g.backup?.storage, 'local-zfs');
    const task = env.sim.tasks().find((t) => t.upid === g.backup?.upid);
    assert.equal(task?.type, 'vzdump');
    assert.equal(task?.exitstatus, 'OK');
    const backupReq = env.sim.requests.find((q) => q.method === 'POST' && q.path === '/nodes/pve1/vzdump');
    assert.deepEqual(
      [backupReq?.body.vmid, backupReq?.body.storage, backupReq?.body.mode],
      ['131', 'local-zfs', 'snapshot'],
    );
    assert.deepEqual(await versions(env.lab, 131, DEMO_PACKAGE_NAMES), all11);
  });
});
