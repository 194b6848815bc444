import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GuestPlan, RunReport } from '../../daemon/engine/types.js';
import type { RunRow } from '../../daemon/store/runs.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import { type Env, invalidRequests, startEnv, versions } from './harness.js';

const all11 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.1']));
const all10 = Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, '1.0']));

/**
 * VMs patched end to end through the QEMU guest agent: the detached runner, a reboot from the
 * hypervisor with its record, verification; an agent restart in the middle of the upgrade; a VM
 * without an agent refused; a reboot that never comes back.
 */
describe('patching real VMs through the guest agent, rebooting them from the hypervisor', () => {
  let env: Env;
  const report = async (...args: string[]) => {
    const r = await env.cli('--output-format', 'json', 'run', ...args);
    return { code: r.code, err: r.err, report: JSON.parse(r.out) as RunReport };
  };

  before(async () => {
    env = await startEnv({
      guests: [],
      vms: [{ vmid: 301 }, { vmid: 302, agent: false }, { vmid: 303 }, { vmid: 304 }],
      sim: { agentBootDelayMs: 400 },
      policy: 'guest: 304\n\treboot always\n\treboot-timeout 10\n',
    });
  });
  after(() => env?.close());

  it('agent check reports per VM: configured, responding, exec allowed', async () => {
    // the VMs were just started: their agents answer after a moment, as on a real boot
    let rows: { vmid: number; configured: boolean; responding: boolean; exec_allowed: boolean; detail: string }[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await env.cli('--output-format', 'json', 'agent', 'check', '301-304');
      rows = JSON.parse(r.out);
      if (rows.filter((x) => x.exec_allowed).length === 3) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const by = new Map(rows.map((x) => [x.vmid, x]));
    for (const vmid of [301, 303, 304])
      assert.deepEqual(
        [by.get(vmid)?.configured, by.get(vmid)?.responding, by.get(vmid)?.exec_allowed],
        [true, true, true],
      );
    assert.deepEqual(
      [by.get(302)?.configured, by.get(302)?.responding, by.get(302)?.exec_allowed],
      [false, false, false],
    );
    assert.match(by.get(302)?.detail ?? '', /no QEMU guest agent configured/);
    const text = await env.cli('agent', 'check', '302');
    assert.equal(text.code, 5);
    assert.match(text.out, /302\s+vm302\s+pve1\s+no\s+no\s+no/);
  });

  it('plans each VM with its transport, driver and reboot policy', async () => {
    const r = await env.cli('--output-format', 'json', 'plan', '301,302,304');
    const plans = JSON.parse(r.out) as GuestPlan[];
    const p301 = plans.find((p) => p.vmid === 301)!;
    assert.equal(p301.type, 'qemu');
    assert.equal(p301.transport, 'qga');
    assert.equal(p301.driver, 'apt', p301.skip_reason ?? '');
    assert.equal(p301.updates_available, DEMO_PACKAGE_NAMES.length);
    assert.equal(p301.reboot, 'never', 'nothing reboots by surprise');
    assert.match(plans.find((p) => p.vmid === 302)!.skip_reason ?? '', /No QEMU guest agent configured/);
    const p304 = plans.find((p) => p.vmid === 304)!;
    assert.equal(p304.reboot, 'always');
    assert.ok(
      p304.policy_sources.some((l) => /^reboot: always \(guest section, guests\.conf:/.test(l)),
      p304.policy_sources.join('\n'),
    );
    assert.deepEqual(await versions(env.lab, 301, DEMO_PACKAGE_NAMES), all10, 'planning changed nothing');
  });

  it('patches a VM through the detached runner, reboots it when required and records the reboot', async () => {
    const uptimeBefore = await env.lab.powerBackend.uptime(301);
    const { code, err, report: rep } = await report('301', '--reboot', 'if-required');
    assert.equal(code, 0, err);
    const g = rep.guests[0]!;
    assert.equal(g.outcome, 'updated', g.reason);
    assert.equal(g.transport, 'qga');
    assert.equal(g.protection, 'snapshot');
    assert.deepEqual(await versions(env.lab, 301, DEMO_PACKAGE_NAMES), all11);
    assert.equal(g.reboot_required, true);
    assert.equal(g.reboot?.status, 'completed');
    assert.ok(g.verification?.ok);
    const task = env.sim.tasks().find((t) => t.type === 'qmreboot' && t.id === '301');
    assert.equal(task?.exitstatus, 'OK');
    const uptime = await env.lab.powerBackend.uptime(301);
    assert.ok(uptime !== undefined && uptimeBefore !== undefined && uptime < uptimeBefore, 'the VM really restarted');
    // the upgrade went through the runner, with its checksum; the reboot came after the snapshot
    const execs = env.sim.requests.filter((q) => q.route?.endsWith('/agent/exec') && q.path.includes('/301/'));
    assert.ok(execs.some((q) => JSON.stringify(q.body).includes('pvepatch-runner')));
    const snapAt = env.sim.requests.findIndex((q) => q.method === 'POST' && q.path === '/nodes/pve1/qemu/301/snapshot');
    const rebootAt = env.sim.requests.findIndex((q) => q.path === '/nodes/pve1/qemu/301/status/reboot');
    assert.ok(snapAt >= 0 && rebootAt > snapAt);
    const runs = JSON.parse((await env.cli('--output-format', 'json', 'runs')).out) as RunRow[];
    assert.deepEqual(runs[0]!.reboots, { completed: 1 });
    const text = await env.cli('runs');
    assert.match(text.out, /1 updated; 1 reboot completed/);
    const log = (await env.cli('log', runs[0]!.id)).out;
    assert.match(log, /VM 301: rebooting VM 301 from the hypervisor \(reboot required \(demo-app\)\)/);
    assert.match(log, /VM 301: VM 301 is back after [\d.]+s/);
  });

  it('refuses a VM whose agent is off before anything changes', async () => {
    const { code, report: rep } = await report('302');
    assert.equal(code, 5);
    assert.equal(rep.guests[0]!.outcome, 'refused');
    assert.match(rep.guests[0]!.reason ?? '', /No QEMU guest agent configured/);
    assert.equal(env.sim.guest(302).snapshots.length, 0);
    assert.deepEqual(await versions(env.lab, 302, DEMO_PACKAGE_NAMES), all10);
  });

  it('finishes the upgrade when the agent restarts in the middle of it', async () => {
    await env.lab.writeGuestFile(303, '/etc/demo-hook', '#!/bin/sh\nsleep 3\n', 0o755);
    const before = env.sim.requests.length;
    const run = report('303');
    for (let i = 0; i < 400; i++) {
      const started = env.sim.requests
        .slice(before)
        .some((q) => q.path.includes('/303/agent/exec') && JSON.stringify(q.body).includes('pvepatch-runner'));
      if (started) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 800));
    await env.sim.restartAgent(303, { downMs: 1500 });
    const { code, err, report: rep } = await run;
    assert.equal(code, 0, err);
    assert.equal(rep.guests[0]!.outcome, 'updated', rep.guests[0]!.reason);
    assert.deepEqual(await versions(env.lab, 303, DEMO_PACKAGE_NAMES), all11);
    const down = env.sim.requests.slice(before).filter((q) => q.status === 500 && q.path.includes('/303/agent/'));
    assert.ok(down.length > 0, 'polls met the restarting agent');
  });

  it('a reboot that never comes back ends as timeout, fails the guest and names the snapshot', async () => {
    env.sim.rebootNeverReturns(304);
    const { code, report: rep } = await report('304');
    assert.equal(code, 6);
    const g = rep.guests[0]!;
    assert.equal(g.outcome, 'failed');
    assert.equal(g.reboot?.status, 'timeout');
    assert.ok(g.snapshot?.name);
    assert.match(
      g.reason ?? '',
      new RegExp(`its pre-patch snapshot is '${g.snapshot!.name}' \\(qm rollback 304 ${g.snapshot!.name}\\)`),
    );
    assert.equal(rep.state, 'error');
  });

  it('sent only requests that pass the schema', () => {
    assert.deepEqual(invalidRequests(env.sim), []);
  });
});
