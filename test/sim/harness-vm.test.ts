import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEnv } from '../e2e/harness.js';
import { call, data } from './test-client.js';

test('startEnv: VMs become qemu guests with the agent and power backends of the lab', async (t) => {
  const env = await startEnv({
    guests: [{ vmid: 101, packages: [] }],
    vms: [
      { vmid: 200, hostname: 'vm200', packages: [] },
      { vmid: 201, agent: false, packages: [] },
    ],
    sim: { agentTimeoutMs: 20 },
  });
  t.after(() => env.close());
  const auth = `PVEAPIToken=${env.token}`;
  const vms = await data<Array<Record<string, unknown>>>(env.sim, 'GET', '/nodes/pve1/qemu', { auth });
  assert.deepEqual(vms.map((v) => v.vmid).sort(), [200, 201]);
  assert.equal(env.lab.kind(200), 'vm');
  assert.equal(env.sim.guest(200).config?.agent, '1');
  assert.deepEqual(await data(env.sim, 'POST', '/nodes/pve1/qemu/200/agent/ping', { auth }), { result: {} });
  const off = await call(env.sim, 'POST', '/nodes/pve1/qemu/201/agent/ping', { auth });
  assert.equal(off.json?.message, 'No QEMU guest agent configured\n');
  const { pid } = await data<{ pid: number }>(env.sim, 'POST', '/nodes/pve1/qemu/200/agent/exec', {
    auth,
    form: { command: ['dpkg-query', '-W', 'demo-app'] },
  });
  let st: Record<string, unknown> = { exited: 0 };
  for (let i = 0; i < 200 && st.exited === 0; i++) {
    st = await data(env.sim, 'GET', '/nodes/pve1/qemu/200/agent/exec-status', { auth, query: { pid } });
    if (st.exited === 0) await sleep(20);
  }
  assert.equal(st.exitcode, 1, 'no demo packages were installed in this VM');

  const upid = await data<string>(env.sim, 'POST', '/nodes/pve1/lxc/101/status/reboot', { auth });
  assert.equal((await env.sim.waitTask(upid)).exitstatus, 'OK');
  for (let i = 0; i < 100 && env.sim.guest(101).status !== 'running'; i++) await sleep(50);
  assert.equal(await env.lab.status(101), 'running');
});
