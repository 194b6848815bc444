import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../../daemon/engine/types.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import { installLabServices, labUnitState, waitForLabUnit } from '../guests/lab-services.js';
import { type Env, startEnv, versions } from './harness.js';

const all10 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.0']));
const all11 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.1']));

/** Breaks demo-web and returns once it has failed (as a postinst that restarts its service). */
const BREAK_HOOK = [
  '#!/bin/sh',
  'touch /etc/demo-web.broken',
  'i=0',
  'while [ $i -lt 100 ] && ! systemctl is-failed -q demo-web; do sleep 0.1; i=$((i + 1)); done',
  '',
].join('\n');

/** A unit that runs until /etc/demo-web.broken appears, then fails (exit 3). */
const DEMO_WEB = ['/bin/sh', '-c', 'while [ ! -e /etc/demo-web.broken ]; do sleep 0.2; done; exit 3'];

/**
 * A patch that leaves a service failed: with `on-failure rollback` the guest goes back to the run's
 * snapshot (files and package versions) and passes its checks again; with `keep` it stays as it is.
 */
describe('verification after the patch and rollback on failure (real containers)', () => {
  let env: Env;

  before(async () => {
    const policy = [
      'defaults: all',
      '\tcheck service demo-web',
      '\tcheck-timeout 4',
      '',
      'guest: 121',
      '\ton-failure rollback',
      '',
    ].join('\n');
    env = await startEnv({ guests: [{ vmid: 121 }, { vmid: 122 }], policy });
    for (const vmid of [121, 122]) {
      await installLabServices(env.lab, vmid, [{ name: 'demo-web', exec: DEMO_WEB, enabled: true }]);
      await waitForLabUnit(env.lab, vmid, 'demo-web', 'active');
      // demo-app 1.1's postinst runs this: the upgrade breaks the service
      await env.lab.writeGuestFile(vmid, '/etc/demo-hook', BREAK_HOOK, 0o755);
    }
  });
  after(() => env?.close());

  it('rolls back to the snapshot when the patch leaves a service failed, and the guest is healthy again', async () => {
    const r = await env.cli('--output-format', 'json', 'run', '121');
    assert.equal(r.code, 6, r.err);
    const g = (JSON.parse(r.out) as RunReport).guests[0]!;
    assert.equal(g.outcome, 'rolled-back');
    assert.match(
      g.reason ?? '',
      /verification failed - unit demo-web\.service failed after the patch; check service demo-web/,
    );
    assert.deepEqual(g.verification?.new_failed_units, ['demo-web.service']);
    assert.equal(g.rollback?.snapshot, g.snapshot?.name);
    assert.equal(g.rollback?.ok, true, g.rollback?.error);
    assert.equal(g.rollback?.verification?.ok, true);
    // the snapshot's state is back: versions, files, and the service runs again
    assert.deepEqual(await versions(env.lab, 121, DEMO_PACKAGE_NAMES), all10);
    assert.equal(await env.lab.fileExists(121, '/etc/demo-web.broken'), false);
    assert.equal(await labUnitState(env.lab, 121, 'demo-web'), 'active');
    const task = env.sim.tasks().find((t) => t.type === 'vzrollback' && t.id === '121');
    assert.equal(task?.exitstatus, 'OK');
    const text = await env.cli('log', JSON.parse((await env.cli('--output-format', 'json', 'runs')).out)[0].id);
    assert.match(text.out, /CT 121: rolling back CT 121 to snapshot 'pvepatch-\S+' - verify: verification failed/);
  });

  it('keeps the patched guest as it is with on-failure keep, and fails it', async () => {
    const r = await env.cli('--output-format', 'json', 'run', '122');
    assert.equal(r.code, 6, `${r.err} ${r.out.slice(0, 3000)}`);
    const g = (JSON.parse(r.out) as RunReport).guests[0]!;
    assert.equal(g.outcome, 'failed');
    assert.equal(g.rollback, undefined);
    assert.deepEqual(await versions(env.lab, 122, DEMO_PACKAGE_NAMES), all11);
    assert.equal(await labUnitState(env.lab, 122, 'demo-web'), 'failed');
  });
});
