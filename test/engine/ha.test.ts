import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GuestContext } from '../../daemon/engine/context.js';
import { rollBack } from '../../daemon/engine/rollback.js';
import { reboot } from '../../daemon/engine/stages/reboot.js';
import type { EngineServices, GuestResult } from '../../daemon/engine/types.js';
import type { GuestPolicy } from '../../daemon/policy/types.js';
import { ProxmoxClient } from '../../daemon/proxmox/client.js';
import type { Guest } from '../../daemon/proxmox/inventory.js';
import { StateStore } from '../../daemon/store/state.js';
import { startSim } from '../sim/server.js';
import type { Sim } from '../sim/types.js';

/**
 * The reboot stage and the rollback of an HA-managed guest against the simulator's HA model (no real
 * guests): the reboot is left pending with its reason and never sent, the rollback is refused with the
 * commands to do it by hand; an unmanaged or `ignored` guest is rebooted as before.
 */

const TOKEN = { id: 'root@pam!pvepatch', secret: '6a1f0b52-3c1e-4d7a-9a55-0c2b3f4e5d61' };

describe('HA-managed guests: reboot and rollback', () => {
  let sim: Sim;
  let dir: string;
  let svc: EngineServices;

  before(async () => {
    sim = await startSim({
      nodes: ['pve1', 'pve2'],
      guests: [
        { vmid: 101, type: 'lxc', node: 'pve1', name: 'ha-ct', status: 'running' },
        { vmid: 102, type: 'lxc', node: 'pve1', name: 'plain', status: 'running' },
        { vmid: 103, type: 'lxc', node: 'pve2', name: 'ignored', status: 'running' },
        { vmid: 200, type: 'qemu', node: 'pve1', name: 'ha-vm', status: 'running', config: { agent: '1' } },
      ],
      tokens: [TOKEN],
      taskDelayMs: 20,
    });
    sim.setHaResource('ct:101', { state: 'started' });
    sim.setHaResource('ct:103', { state: 'ignored' });
    sim.setHaResource('vm:200', {});
    dir = mkdtempSync(join(tmpdir(), 'pvepatch-ha-'));
    const store = new StateStore(dir);
    await store.start();
    const client = new ProxmoxClient({
      url: sim.url,
      token: `${TOKEN.id}=${TOKEN.secret}`,
      fingerprint: sim.fingerprint,
      timeoutMs: 2000,
    });
    svc = { client, store, node: 'pve1', config: { reboot_window: '', task_timeout: 10 } } as unknown as EngineServices;
  });
  after(async () => {
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function context(vmid: number, lines: string[]): GuestContext {
    const g = sim.guest(vmid);
    const guest: Guest = {
      vmid,
      type: g.type,
      node: g.node,
      name: g.name,
      status: g.status,
      template: false,
      tags: [],
    };
    const policy = { vmid, type: g.type, reboot: 'always', onFailure: 'rollback', rebootTimeout: 10 } as GuestPolicy;
    const result: GuestResult = { vmid, name: g.name, outcome: 'skipped' };
    return {
      svc,
      target: { guest, policy, transport: null, skip_reason: null },
      policy,
      runId: `run-${vmid}`,
      dryRun: false,
      securityOnly: false,
      exclude: [],
      log: (text) => lines.push(text),
      output: () => {},
      deadline: Date.now() + 60_000,
      stopping: () => false,
      result,
      timing: { started: Date.now(), tasksMs: 0, queuedMs: 0 },
    };
  }

  const reboots = () => sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/status/reboot'));

  it('leaves the reboot of an HA VM and CT pending with the reason, and sends none', async () => {
    for (const [vmid, sid] of [
      [200, 'vm:200'],
      [101, 'ct:101'],
    ] as const) {
      const lines: string[] = [];
      const ctx = context(vmid, lines);
      const r = await reboot.run(ctx);
      assert.deepEqual(r, { status: 'skipped', reason: `${sid} is managed by HA` });
      assert.equal(ctx.result.reboot?.status, 'pending');
      assert.match(
        ctx.result.reboot?.reason ?? '',
        new RegExp(
          `^reboot policy always; deferred - ${sid} is an HA resource \\(state started\\) - a reboot through the API bypasses the HA manager`,
        ),
      );
      assert.ok(
        lines.some((l) => l.startsWith(`reboot skipped: ${sid} is an HA resource (state started) - `)),
        lines.join('\n'),
      );
      const rec = svc.store.data.reboots.find((x) => x.vmid === vmid)!;
      assert.equal(rec.status, 'pending');
      assert.ok(rec.reason.includes(`ha-manager set ${sid} --state ignored`));
    }
    assert.equal(reboots().length, 0);
    assert.equal(sim.guest(200).status, 'running');
  });

  it('reboots a guest HA does not manage, and one whose resource is ignored', async () => {
    for (const vmid of [102, 103]) {
      const ctx = context(vmid, []);
      assert.deepEqual(await reboot.run(ctx), { status: 'done' });
      assert.equal(ctx.result.reboot?.status, 'completed');
    }
    assert.equal(reboots().length, 2);
  });

  it('a guest in HA error state is held too (its restart would be refused and it would stay down)', async () => {
    sim.setHaResource('vm:200', { crm_state: 'error' });
    const lines: string[] = [];
    const ctx = context(200, lines);
    assert.equal((await reboot.run(ctx)).status, 'skipped');
    assert.match(ctx.result.reboot?.reason ?? '', /vm:200 is an HA resource \(state error\)/);
    sim.setHaResource('vm:200', {});
  });

  it('refuses to roll back an HA guest and names the commands to do it by hand', async () => {
    const lines: string[] = [];
    const ctx = context(101, lines);
    ctx.result.snapshot = { name: 'pvepatch_pre', upid: '', finished_at: new Date().toISOString() };
    await rollBack(ctx, 'verify: a check failed');
    const rb = ctx.result.rollback!;
    assert.equal(rb.ok, false);
    assert.match(
      rb.error ?? '',
      /^ct:101 is an HA resource \(state started\) - a rollback stops the guest behind the HA manager.*; roll back by hand: ha-manager set ct:101 --state ignored; pct rollback 101 pvepatch_pre --start 1; ha-manager set ct:101 --state started$/,
    );
    assert.equal(rb.upid, undefined);
    assert.equal(sim.requests.filter((r) => r.path.includes('/rollback')).length, 0);
    assert.ok(lines.some((l) => l.startsWith("rollback to 'pvepatch_pre' failed: ct:101 is an HA resource")));
  });

  it('holds the guest when its HA state cannot be read', async () => {
    sim.inject({ method: 'GET', path: /\/qemu\/200\/status\/current$/, status: 500, message: 'boom', times: 1 });
    const ctx = context(200, []);
    assert.equal((await reboot.run(ctx)).status, 'skipped');
    assert.match(
      ctx.result.reboot?.reason ?? '',
      /vm:200 may be an HA resource \(unknown - its status could not be read: /,
    );
    sim.clearInjections();
    assert.equal(reboots().length, 2);
  });
});
