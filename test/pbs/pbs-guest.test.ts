import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GuestExec } from '../../daemon/drivers/shared/guest-exec.js';
import { pbsHealth, pbsPrecheck } from '../../daemon/pbs/index.js';
import { PctTransport } from '../../daemon/transports/pct/index.js';
import { Lab } from '../guests/lab.js';
import { makePbsGuest, mountSmallFilesystem, setFinishedPbsTasks, setRunningPbsTasks } from '../guests/lab-pbs.js';
import { LAB_SYSTEMCTL, waitForLabUnit } from '../guests/lab-services.js';
import { type PbsSim, startPbsSim } from '../sim-pbs/server.js';
import { makePbsTask } from '../sim-pbs/upid.js';

const PBS = 151;
const PLAIN = 152;
const TOKEN = { id: 'pvepatch@pbs!precheck', secret: '5e1f0c4a-8d2b-4b7e-9c61-0a3f2d4e5b6c' };

const backup = makePbsTask({
  workerType: 'backup',
  workerId: 'store1:vm/100',
  authId: 'root@pam!pve',
  starttime: 1_765_000_000,
});
const gcDone = makePbsTask({
  workerType: 'garbage_collection',
  workerId: 'store1',
  taskId: 7,
  starttime: 1_764_990_000,
  endtime: 1_764_990_300,
  status: 'OK',
});

describe('PBS precheck and health against a lab PBS guest', () => {
  let lab: Lab;
  let sim: PbsSim;
  const log: string[] = [];
  const execFor = (vmid: number) => {
    const transport = new PctTransport(
      { vmid, node: 'pve1', type: 'lxc' },
      { pctPath: lab.pctPath, localNode: 'pve1', defaultTimeoutMs: 60_000 },
    );
    return new GuestExec(transport, { log: (line) => log.push(line) });
  };
  const api = () => ({ url: sim.url, tokenId: TOKEN.id, secret: TOKEN.secret, fingerprint: sim.fingerprint });

  before(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pvepatch-lab-'));
    [lab, sim] = await Promise.all([
      Lab.create({ dir, guests: [{ vmid: PBS, hostname: 'pbs' }, { vmid: PLAIN }] }),
      startPbsSim({ tokens: [TOKEN] }),
    ]);
    await makePbsGuest(lab, PBS, { version: '3.4.1-1' });
    await setFinishedPbsTasks(lab, PBS, [gcDone]);
    await waitForLabUnit(lab, PBS, 'proxmox-backup', 'active');
    await waitForLabUnit(lab, PBS, 'proxmox-backup-proxy', 'active');
  });

  after(async () => {
    await Promise.all([lab?.destroy(), sim?.close()]);
  });

  test('a quiet PBS with room passes (CLI path), and the exact argv are sent', async () => {
    log.length = 0;
    const res = await pbsPrecheck(execFor(PBS), { minFreeGiB: 1 });
    assert.equal(res.ok, true, JSON.stringify(res));
    assert.ok(res.ok);
    assert.deepEqual(res.versions, ['proxmox-backup-server 3.4.1-1 running version: 3.4.1']);
    assert.equal(res.serverVersion, '3.4.1-1');
    assert.equal(res.tasksFrom, 'cli');
    assert.ok(res.freeKiB >= 1024 * 1024);
    assert.deepEqual(log, [
      '$ /usr/sbin/proxmox-backup-manager versions',
      '$ df -Pk /',
      '$ /usr/sbin/proxmox-backup-manager task list --output-format json',
    ]);
  });

  test('a running backup task refuses the patch and names the task (CLI path)', async () => {
    await setRunningPbsTasks(lab, PBS, [backup]);
    try {
      const res = await pbsPrecheck(execFor(PBS), { minFreeGiB: 1 });
      assert.equal(res.ok, false);
      assert.ok(!res.ok);
      assert.equal(res.check, 'tasks-running');
      assert.match(res.reason, /1 PBS task\(s\) running \(proxmox-backup-manager task list\): backup store1:vm\/100 /);
      assert.ok(res.reason.includes(backup.upid), res.reason);
      assert.match(res.reason, /wait until they finish, or stop them/);
    } finally {
      await setRunningPbsTasks(lab, PBS, []);
    }
  });

  test('the API path: a running task on the PBS refuses, none passes; the token and pin are used', async () => {
    sim.setRunningTasks([backup]);
    const refused = await pbsPrecheck(execFor(PBS), { minFreeGiB: 1, api: api() });
    assert.ok(!refused.ok);
    assert.equal(refused.check, 'tasks-running');
    assert.ok(refused.reason.includes(`(the PBS API): backup store1:vm/100 (${backup.upid})`), refused.reason);
    sim.setRunningTasks([]);
    const passed = await pbsPrecheck(execFor(PBS), { minFreeGiB: 1, api: api() });
    assert.ok(passed.ok, JSON.stringify(passed));
    assert.equal(passed.tasksFrom, 'api');
    assert.deepEqual(sim.requests.at(-1), {
      method: 'GET',
      path: '/api2/json/nodes/localhost/tasks',
      query: { running: '1', limit: '100' },
      tokenId: TOKEN.id,
      status: 200,
    });
  });

  test('the API path refuses when it cannot tell: wrong secret (401), wrong fingerprint', async () => {
    const wrongSecret = await pbsPrecheck(execFor(PBS), { minFreeGiB: 1, api: { ...api(), secret: 'nope' } });
    assert.ok(!wrongSecret.ok);
    assert.equal(wrongSecret.check, 'tasks-unknown');
    assert.match(wrongSecret.reason, /authentication failed \(401\); check the PBS token id and secret/);
    const before = sim.requests.length;
    const pin = `${'AB:'.repeat(31)}AB`;
    const wrongPin = await pbsPrecheck(execFor(PBS), { minFreeGiB: 1, api: { ...api(), fingerprint: pin } });
    assert.ok(!wrongPin.ok);
    assert.equal(wrongPin.check, 'tasks-unknown');
    assert.match(wrongPin.reason, /fingerprint mismatch/);
    assert.equal(sim.requests.length, before, 'no request was sent over the unpinned connection');
  });

  test('low disk space refuses with how much is free (a real 64 MiB tmpfs in the guest)', async () => {
    await mountSmallFilesystem(lab, PBS, '/srv/small', 64);
    const res = await pbsPrecheck(execFor(PBS), { minFreeGiB: 1, path: '/srv/small' });
    assert.ok(!res.ok);
    assert.equal(res.check, 'disk-space');
    assert.match(res.reason, /only 64 MiB free on \/srv\/small \(df -Pk \/srv\/small\), at least 1 GiB needed/);
  });

  test('the manager stand-in prints versions as PBS does: a border-less table without header', async () => {
    const plain = await lab.execOk(PBS, ['proxmox-backup-manager', 'versions']);
    assert.equal(plain.stdout, 'proxmox-backup-server 3.4.1-1 running version: 3.4.1\n');
    const verbose = (await lab.execOk(PBS, ['proxmox-backup-manager', 'versions', '--verbose'])).stdout.split('\n');
    assert.equal(verbose[0], 'proxmox-backup                     3.4.0         running kernel: 6.8.12-9-pve');
    assert.equal(verbose[1], 'proxmox-backup-server              3.4.1-1       running version: 3.4.1      ');
  });

  test('a guest without proxmox-backup-manager is refused as not a PBS', async () => {
    const res = await pbsPrecheck(execFor(PLAIN), { minFreeGiB: 1 });
    assert.ok(!res.ok);
    assert.equal(res.check, 'manager-missing');
    assert.match(res.reason, /'proxmox-backup-manager versions' failed, it exited 127 \(not found\)/);
    assert.match(res.reason, /install or repair proxmox-backup-server, or drop role: pbs/);
  });

  test('health of a running PBS: services active and enabled, versions, last tasks', async () => {
    log.length = 0;
    const health = await pbsHealth(execFor(PBS), { lastTasks: 3 });
    assert.deepEqual(health.problems, []);
    assert.equal(health.ok, true);
    assert.deepEqual(health.services, [
      { name: 'proxmox-backup', active: true, enabled: true, activeState: 'active', enabledState: 'enabled' },
      { name: 'proxmox-backup-proxy', active: true, enabled: true, activeState: 'active', enabledState: 'enabled' },
    ]);
    assert.deepEqual(health.versions, ['proxmox-backup-server 3.4.1-1 running version: 3.4.1']);
    assert.deepEqual(
      health.last_tasks.map((t) => [t.worker_type, t.worker_id, t.status]),
      [['garbage_collection', 'store1', 'OK']],
    );
    assert.ok(log.includes('$ /usr/sbin/proxmox-backup-manager task list --all --limit 3 --output-format json'));
    assert.ok(log.includes('$ systemctl is-active -- proxmox-backup-proxy'));
  });

  test('a stopped proxmox-backup-proxy after the patch makes health not ok, with the problem named', async () => {
    await lab.execOk(PBS, [LAB_SYSTEMCTL, 'stop', 'proxmox-backup-proxy']);
    const health = await pbsHealth(execFor(PBS));
    assert.equal(health.ok, false);
    assert.deepEqual(health.problems, [
      "proxmox-backup-proxy.service is inactive, not active - see 'systemctl status proxmox-backup-proxy' and 'journalctl -u proxmox-backup-proxy'",
    ]);
    assert.equal(health.services[1]?.active, false);
  });

  test('after a reboot the enabled services are back and health is ok again', async () => {
    await lab.setStatus(PBS, 'stopped');
    await lab.setStatus(PBS, 'running');
    await waitForLabUnit(lab, PBS, 'proxmox-backup', 'active');
    await waitForLabUnit(lab, PBS, 'proxmox-backup-proxy', 'active');
    const health = await pbsHealth(execFor(PBS));
    assert.deepEqual(health.problems, []);
  });

  test('a down API daemon: the CLI task list fails, so the precheck cannot tell and refuses', async () => {
    await lab.execOk(PBS, [LAB_SYSTEMCTL, 'stop', 'proxmox-backup']);
    try {
      const res = await pbsPrecheck(execFor(PBS), { minFreeGiB: 1 });
      assert.ok(!res.ok);
      assert.equal(res.check, 'tasks-unknown');
      assert.match(res.reason, /exited 255 \(Error: error trying to connect: tcp connect error: Connection refused/);
      assert.match(res.reason, /is the proxmox-backup service running\?/);
    } finally {
      await lab.execOk(PBS, [LAB_SYSTEMCTL, 'start', 'proxmox-backup']);
    }
  });
});
