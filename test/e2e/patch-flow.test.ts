import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GuestPlan, RunReport } from '../../daemon/engine/types.js';
import type { RunSummary } from '../../daemon/store/state.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import { type Env, invalidRequests, startEnv, versions } from './harness.js';

const GUESTS = [101, 102, 103];
const all11 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.1']));
const all10 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.0']));

/** Seconds since the epoch of the first dpkg action in the guest's dpkg.log after `sinceSec`. */
function firstDpkgChange(log: string, sinceSec: number): number | undefined {
  for (const line of log.split('\n')) {
    const m = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (upgrade|install|configure) /.exec(line);
    if (!m) continue;
    const sec = Date.parse(`${m[1]!.replace(' ', 'T')}Z`) / 1000;
    if (sec >= sinceSec) return sec;
  }
  return undefined;
}

describe('patching three real Debian containers through the simulated PVE API', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({
      guests: GUESTS.map((vmid) => ({ vmid, hostname: `web${vmid}` })),
      apiOnlyGuests: [
        { vmid: 104, type: 'lxc', node: 'pve1', name: 'stopped-ct', status: 'stopped' },
        { vmid: 9000, type: 'lxc', node: 'pve1', name: 'tpl', status: 'stopped', template: true },
        { vmid: 200, type: 'qemu', node: 'pve1', name: 'vm', status: 'running' },
      ],
    });
  });
  after(() => env?.close());

  it('lists guests with how each is reached or why it is skipped', async () => {
    const r = await env.cli('--output-format', 'json', 'guests');
    assert.equal(r.code, 0, r.err);
    const rows = JSON.parse(r.out) as { vmid: number; transport: string | null; skip_reason: string | null }[];
    assert.deepEqual(
      rows.map((g) => g.vmid),
      [101, 102, 103, 104, 200, 9000],
    );
    assert.equal(rows.find((g) => g.vmid === 101)?.transport, 'pct');
    assert.match(rows.find((g) => g.vmid === 104)?.skip_reason ?? '', /stopped/);
    assert.match(rows.find((g) => g.vmid === 9000)?.skip_reason ?? '', /template/);
    // a VM is reached through its guest agent; whether it has one is checked before it is touched
    assert.equal(rows.find((g) => g.vmid === 200)?.transport, 'qga');
    assert.equal(rows.find((g) => g.vmid === 200)?.skip_reason, null);
  });

  it('plans exactly the pending packages with their versions and security flag', async () => {
    const r = await env.cli('--output-format', 'json', 'plan', 'all');
    assert.equal(r.code, 0, r.err);
    const plans = JSON.parse(r.out) as GuestPlan[];
    for (const vmid of GUESTS) {
      const p = plans.find((x) => x.vmid === vmid)!;
      assert.equal(p.skip_reason, null);
      assert.equal(p.driver, 'apt');
      assert.equal(p.transport, 'pct');
      assert.equal(p.protection, 'snapshot');
      assert.equal(p.updates_available, DEMO_PACKAGE_NAMES.length);
      assert.deepEqual(
        p.packages.map((u) => [u.package, u.current_version, u.new_version, u.security]).sort(),
        DEMO_PACKAGE_NAMES.map((n) => [n, '1.0', '1.1', n === 'demo-sec']).sort(),
      );
      assert.equal(p.security_updates, 1);
    }
    assert.equal(plans.find((x) => x.vmid === 104)?.updates_available, 0);
    for (const vmid of GUESTS)
      assert.deepEqual(await versions(env.lab, vmid, DEMO_PACKAGE_NAMES), all10, 'plan changes nothing');
    const text = await env.cli('plan', '101');
    assert.match(text.out, /demo-sec\s+1\.0\s+1\.1\s+Debian-Security:\S+\s+yes/);
  });

  it('a dry run reports what would change and changes nothing', async () => {
    const r = await env.cli('--output-format', 'json', 'run', '--dry-run', '101-103');
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as RunReport;
    assert.equal(report.dry_run, true);
    assert.deepEqual(
      report.guests.map((g) => [g.vmid, g.outcome, g.packages?.length]),
      GUESTS.map((v) => [v, 'would-update', 5]),
    );
    for (const vmid of GUESTS) {
      assert.deepEqual(await versions(env.lab, vmid, DEMO_PACKAGE_NAMES), all10);
      assert.equal(env.sim.guest(vmid).snapshots.length, 0, 'a dry run takes no snapshot');
    }
  });

  let runId = '';
  it('patches every guest after a snapshot whose task finished before the first dpkg change', async () => {
    const startSec = Math.floor(Date.now() / 1000);
    const r = await env.cli('run', 'all');
    // VM 200 has no guest agent configured: refused before anything happens to it
    assert.equal(r.code, 5, `${r.out}\n${r.err}`);
    assert.match(r.out, /TASK WARNINGS: 1/);
    assert.match(r.out, /200 .*refused.*No QEMU guest agent configured/);
    assert.equal(env.sim.guest(200).snapshots.length, 0, 'the VM without an agent was not snapshotted');
    const runs = JSON.parse((await env.cli('--output-format', 'json', 'runs')).out) as Pick<
      RunSummary,
      'id' | 'state'
    >[];
    runId = runs[0]!.id;
    const report = JSON.parse((await env.cli('--output-format', 'json', 'log', runId)).out) as { t: string }[];
    assert.equal(report.at(-1)?.t, 'TASK WARNINGS: 1');
    for (const vmid of GUESTS) {
      assert.deepEqual(await versions(env.lab, vmid, DEMO_PACKAGE_NAMES), all11, `CT ${vmid} upgraded`);
      const snaps = env.sim.guest(vmid).snapshots.filter((s) => s.name.startsWith('pvepatch-'));
      assert.equal(snaps.length, 1, `one snapshot of ${vmid}`);
      const snapDone = env.lab.snapshotTimes(vmid)[snaps[0]!.name]!;
      const task = env.sim.tasks().find((t) => t.type === 'vzsnapshot' && t.id === String(vmid))!;
      assert.equal(task.exitstatus, 'OK');
      const dpkgSec = firstDpkgChange(await env.lab.dpkgLog(vmid), startSec);
      assert.ok(dpkgSec !== undefined, 'dpkg changed something');
      assert.ok(Math.floor(snapDone / 1000) <= dpkgSec, 'snapshot finished before dpkg started');
      assert.ok(task.endtime! <= dpkgSec, 'snapshot task ended before dpkg started');
      const lines = report.map((l) => l.t).filter((t) => t.includes(`CT ${vmid}:`));
      const snapLine = lines.findIndex((t) => /snapshot 'pvepatch-\S+' created/.test(t));
      const firstChange = lines.findIndex((t) => /demo-\w+: 1\.0 -> 1\.1/.test(t));
      assert.ok(snapLine >= 0 && firstChange > snapLine, 'the log shows the snapshot before the first change');
      assert.ok(lines.some((t) => /reboot required \(demo-app\)/.test(t)));
    }
  });

  it('reports per guest in JSON, with changes, reboot flag and skip reasons', async () => {
    const r = await env.cli('--output-format', 'json-pretty', 'run', 'all');
    assert.equal(r.code, 5, 'a second run has nothing to update (and VM 200 is still refused)');
    const report = JSON.parse(r.out) as RunReport;
    const byId = new Map(report.guests.map((g) => [g.vmid, g]));
    for (const vmid of GUESTS) assert.equal(byId.get(vmid)?.outcome, 'up-to-date');
    assert.equal(byId.get(104)?.outcome, 'skipped');
    assert.equal(byId.get(9000)?.outcome, 'skipped');
    assert.equal(byId.get(200)?.outcome, 'refused');
    assert.equal(byId.get(200)?.transport, undefined, 'no transport was opened for it');
    for (const vmid of GUESTS) {
      assert.equal(
        env.sim.guest(vmid).snapshots.filter((s) => s.name.startsWith('pvepatch-')).length,
        1,
        'no-op run took no snapshot',
      );
    }
    const first = JSON.parse((await env.cli('--output-format', 'json', 'runs')).out) as Pick<
      RunSummary,
      'id' | 'state'
    >[];
    assert.equal(first.find((x) => x.id === runId)?.state, 'warnings');
  });

  it('sent only requests that pass the schema, all authenticated', () => {
    assert.deepEqual(invalidRequests(env.sim), []);
    assert.ok(env.sim.requests.length > 10);
    assert.ok(env.sim.requests.every((r) => r.authid === 'pvepatch@pve!daemon'));
  });

  it('the snapshot really holds the pre-patch state: rolling back restores 1.0', async () => {
    const snap = env.sim.guest(101).snapshots.find((s) => s.name.startsWith('pvepatch-'))!;
    await env.lab.snapshotBackend.rollback(101, snap.name);
    assert.deepEqual(await versions(env.lab, 101, DEMO_PACKAGE_NAMES), all10);
  });
});
