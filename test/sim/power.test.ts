import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { simFor } from './fixture.js';
import { call, data, waitStopped } from './test-client.js';

test('POST vzdump: a vzdump task by the caller that holds lock: backup, then ends OK', async (t) => {
  const { sim } = await simFor(t, { vzdumpDurationMs: 150 });
  const upid = await data<string>(sim, 'POST', '/nodes/pve1/vzdump', {
    form: { vmid: '101', storage: 'pbs', mode: 'snapshot' },
  });
  assert.match(upid, /:vzdump:101:root@pam!pvepatch:$/);
  assert.equal(sim.guest(101).lock, 'backup');
  const resources = await data<Array<Record<string, unknown>>>(sim, 'GET', '/cluster/resources', {
    query: { type: 'vm' },
  });
  assert.equal(resources.find((r) => r.vmid === 101)?.lock, 'backup');
  const st = await waitStopped(sim, 'pve1', upid);
  assert.equal(st.exitstatus, 'OK');
  assert.equal(sim.guest(101).lock, undefined);
  const bad = await call(sim, 'POST', '/nodes/pve1/vzdump', { form: { vmid: '101', mode: 'fast' } });
  assert.equal(bad.status, 400);
  assert.equal(sim.requests.filter((r) => r.status === 501).length, 0);
});

test('without backends: reboot flips the simulated state, the agent answers but cannot exec', async (t) => {
  const { sim } = await simFor(t);
  const upid = await data<string>(sim, 'POST', '/nodes/pve1/qemu/200/status/reboot');
  assert.equal((await waitStopped(sim, 'pve1', upid)).exitstatus, 'OK');
  for (let i = 0; i < 50 && sim.guest(200).status !== 'running'; i++) await sleep(10);
  assert.equal(sim.guest(200).status, 'running');
  assert.deepEqual(await data(sim, 'POST', '/nodes/pve1/qemu/200/agent/ping'), { result: {} });
  const exec = await call(sim, 'POST', '/nodes/pve1/qemu/200/agent/exec', { form: { command: 'true' } });
  assert.equal(exec.status, 500);
  const ct = await call(sim, 'POST', '/nodes/pve1/lxc/102/status/reboot');
  assert.equal(ct.json?.message, 'CT 102 not running\n');
  const agentOnCt = await call(sim, 'POST', '/nodes/pve1/lxc/101/agent/ping');
  assert.equal(agentOnCt.status, 501);
});

test('agent config values are read leniently; the PUT checks property strings and locks', async (t) => {
  const { sim } = await simFor(t);
  for (const [value, on] of [
    ['1', true],
    ['0', false],
    ['enabled=1', true],
    ['type=virtio,enabled=1', true],
    ['1,fstrim_cloned_disks=1', true],
    ['enabled=0,type=isa', false],
  ] as const) {
    sim.setGuest(200, { config: { agent: value } });
    const st = await data<Record<string, unknown>>(sim, 'GET', '/nodes/pve1/qemu/200/status/current');
    assert.equal(st.agent, on ? 1 : undefined, value);
  }
  const unknown = await call(sim, 'PUT', '/nodes/pve1/qemu/200/config', { form: { agent: '1,color=red' } });
  assert.match(
    unknown.json?.errors?.agent ?? '',
    /color: property is not defined in schema and the schema does not allow additional properties/,
  );
  const indexed = await call(sim, 'PUT', '/nodes/pve1/qemu/200/config', { form: { net1: 'virtio,bridge=vmbr1' } });
  assert.equal(indexed.status, 200);
  sim.setGuest(200, { lock: 'backup' });
  const locked = await call(sim, 'PUT', '/nodes/pve1/qemu/200/config', { form: { agent: '1' } });
  assert.equal(locked.json?.message, 'VM is locked (backup)\n');
  const skip = await call(sim, 'PUT', '/nodes/pve1/qemu/200/config', { form: { description: 'x', skiplock: 1 } });
  assert.equal(skip.status, 200);
  assert.equal(sim.guest(200).config?.description, 'x', 'fast-plug options apply to a running VM at once');
});
