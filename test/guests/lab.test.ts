import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEMO_PACKAGE_NAMES } from './demo-packages.js';
import { Lab } from './lab.js';
import { run } from './run.js';

const INST_RE = /^Inst (\S+) \[([^\]]+)\] \((\S+) ([^[]+) \[([^\]]+)\]\)( \[.*\])?$/;
const UPGRADE = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-y', '-q', '-o', 'Dpkg::Use-Pty=0'];

describe('guest lab', () => {
  let lab: Lab;
  let dir: string;
  /** Host pid of VM 103's init, to see that destroy() stops VMs too. */
  let vmInit = 0;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pvepatch-lab-'));
    lab = await Lab.create({
      dir,
      guests: [
        { vmid: 101, hostname: 'web1' },
        { vmid: 102, status: 'stopped', modifyConffile: true },
        { vmid: 103, kind: 'vm', hostname: 'vm103', packages: ['demo-lib'] },
      ],
    });
  });

  after(async () => {
    await lab?.destroy();
  });

  test('every guest has the five demo packages at 1.0 (running and stopped)', async () => {
    for (const vmid of [101, 102]) {
      for (const pkg of DEMO_PACKAGE_NAMES) assert.equal(await lab.dpkgVersion(vmid, pkg), '1.0', `${vmid} ${pkg}`);
      assert.equal(await lab.dpkgVersion(vmid, 'demo-missing'), null);
    }
    assert.equal(await lab.status(101), 'running');
    assert.equal(await lab.status(102), 'stopped');
    assert.match(await lab.dpkgLog(101), / status installed demo-sec:all 1\.0$/m);
  });

  test('repo v2 offers five upgrades, demo-sec from Debian-Security', async () => {
    await lab.setRepo('v2');
    const update = await lab.exec(101, ['apt-get', 'update', '-q']);
    assert.equal(update.exitCode, 0, update.stderr);
    const sim = await lab.exec(101, ['apt-get', '-s', 'dist-upgrade']);
    assert.equal(sim.exitCode, 0, sim.stderr);
    const inst = sim.stdout
      .split('\n')
      .map((line) => INST_RE.exec(line))
      .filter((m) => m !== null)
      .map((m) => ({ pkg: m[1], from: m[2], to: m[3], origin: m[4] }));
    assert.deepEqual(inst.map((i) => i.pkg).sort(), [...DEMO_PACKAGE_NAMES].sort());
    for (const i of inst) assert.deepEqual([i.from, i.to], ['1.0', '1.1']);
    assert.equal(inst.find((i) => i.pkg === 'demo-sec')?.origin, 'Debian-Security:12/bookworm-security');
    assert.equal(inst.find((i) => i.pkg === 'demo-app')?.origin, 'Demo:1.0/stable');
  });

  test('pct refuses stopped, unknown and malformed guests like Proxmox', async () => {
    const stopped = await run([lab.pctPath, 'exec', '102', '--', 'true']);
    assert.deepEqual([stopped.exitCode, stopped.stderr], [255, "container '102' not running!\n"]);
    assert.equal((await run([lab.pctPath, 'status', '102'])).stdout, 'status: stopped\n');
    assert.equal((await run([lab.pctPath, 'status', '101'])).stdout, 'status: running\n');
    const unknown = await run([lab.pctPath, 'exec', '999', '--', 'true']);
    assert.deepEqual(
      [unknown.exitCode, unknown.stderr],
      [255, "Configuration file 'nodes/pve1/lxc/999.conf' does not exist\n"],
    );
    const bad = await run([lab.pctPath, 'exec', '99', '--', 'true']);
    assert.equal(bad.exitCode, 255);
    assert.match(bad.stderr, /^400 Parameter verification failed\.\nvmid: invalid format - value does not look like/);
  });

  test("pct refuses a lab VM as Proxmox's pct refuses a QEMU VM; the lab itself still reaches it", async () => {
    const noConf = "Configuration file 'nodes/pve1/lxc/103.conf' does not exist\n";
    const refusal = async (argv: string[], env?: NodeJS.ProcessEnv) => {
      const r = await run([lab.pctPath, ...argv], env ? { env } : {});
      return [r.exitCode, r.stdout, r.stderr];
    };
    assert.deepEqual(await refusal(['exec', '103', '--', 'true']), [255, '', noConf]);
    assert.deepEqual(await refusal(['exec', '103', '--keep-env', '0', '--', 'true']), [255, '', noConf]);
    assert.deepEqual(await refusal(['status', '103']), [255, '', noConf]);
    assert.deepEqual(await refusal(['start', '103']), [255, '', noConf]);
    assert.deepEqual(await refusal(['stop', '103']), [255, '', 'CT 103 not running\n']);
    // an inherited PVEPATCH_LAB_INTERNAL does not open the public pct
    const leaked = { ...process.env, PVEPATCH_LAB_INTERNAL: '1' };
    assert.deepEqual(await refusal(['exec', '103', '--', 'true'], leaked), [255, '', noConf]);
    assert.equal(lab.kind(103), 'vm');
    assert.equal(existsSync(path.join(dir, 'guests/103/ct.conf')), false);
    assert.match(await readFile(path.join(dir, 'guests/103/vm.conf'), 'utf8'), /^name: vm103$/m);

    // the VM kept running (pct stop did not touch it), and the lab's helpers still work on it
    assert.equal(await lab.status(103), 'running');
    assert.equal(await lab.dpkgVersion(103, 'demo-lib'), '1.0', 'provisioned through the lab entry');
    assert.equal((await lab.execOk(103, ['hostname'])).stdout, 'vm103\n');
    await lab.writeGuestFile(103, '/root/note', 'hi\n', 0o600);
    assert.equal((await lab.execOk(103, ['stat', '-c', '%a %s', '/root/note'])).stdout, '600 3\n');
    assert.equal(await lab.fileExists(103, '/root/note'), true);
    const kept = await lab.exec(103, ['env'], { keepEnv: true });
    assert.doesNotMatch(kept.stdout, /^PVEPATCH_LAB_(DIR|INTERNAL)=/m);
    const init = (await readFile(path.join(dir, 'guests/103/init.pid'), 'utf8')).split(' ')[0];
    vmInit = Number(init);
    assert.ok(vmInit > 1 && existsSync(`/proc/${vmInit}`));
    // the lab stops and starts it (snapshots and power actions do)
    await lab.setStatus(103, 'stopped');
    assert.equal(await lab.status(103), 'stopped');
    assert.deepEqual(await refusal(['start', '103']), [255, '', noConf]);
    await lab.setStatus(103, 'running');
    assert.equal(await lab.status(103), 'running');
    vmInit = Number((await readFile(path.join(dir, 'guests/103/init.pid'), 'utf8')).split(' ')[0]);
  });

  test('pct exec passes argv, stdin and the exit code through', async () => {
    const res = await lab.exec(101, ['sh', '-c', 'cat; echo "$1" >&2; exit 7', 'sh', "it's $HOME"], { input: 'in\n' });
    assert.deepEqual(res, { exitCode: 7, stdout: 'in\n', stderr: "it's $HOME\n" });
  });

  test('--keep-env 0 gives a clean environment, --keep-env 1 keeps the caller environment', async () => {
    const env = { ...process.env, PVEPATCH_MARKER: 'x1' };
    const clean = await run([lab.pctPath, 'exec', '101', '--keep-env', '0', '--', 'env'], { env });
    assert.equal(clean.exitCode, 0, clean.stderr);
    const vars = clean.stdout.trim().split('\n').sort();
    assert.deepEqual(vars, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'container=lxc']);
    const kept = await run([lab.pctPath, 'exec', '101', '--keep-env', '1', '--', 'env'], { env });
    assert.match(kept.stdout, /^PVEPATCH_MARKER=x1$/m);
    assert.doesNotMatch(kept.stdout, /^PVEPATCH_LAB_DIR=/m);
  });

  test('commands run in the guest pid and uts namespaces', async () => {
    const res = await lab.exec(101, ['sh', '-c', 'echo $$; cat /proc/1/comm; hostname; ls /proc | grep -c "^[0-9]"']);
    const [pid, init, hostname, procs] = res.stdout.trim().split('\n');
    assert.ok(Number(pid) > 1 && Number(pid) < 5000, `pid ${pid}`);
    assert.deepEqual([init, hostname], ['init', 'web1']);
    assert.ok(Number(procs) < 10, `${procs} processes visible`);
    assert.notEqual(os.hostname(), 'web1');
  });

  test('a held dpkg lock makes apt fail with "Could not get lock"', async () => {
    const hold = await lab.holdDpkgLock(101, 60);
    try {
      const res = await lab.exec(101, [...UPGRADE, 'install', '--reinstall', 'demo-tool']);
      assert.equal(res.exitCode, 100);
      assert.match(res.stderr, /Could not get lock \/var\/lib\/dpkg\/lock-frontend/);
      assert.match(res.stderr, new RegExp(`held by process ${hold.pid} \\(perl\\)`));
    } finally {
      await hold.release();
    }
    const again = await lab.exec(101, [...UPGRADE, 'install', '--reinstall', 'demo-tool']);
    assert.equal(again.exitCode, 0, again.stderr);
  });

  test('snapshot rollback restores the guest root', async () => {
    const before = Date.now();
    await lab.snapshotBackend.create(101, 'pre_patch');
    const times = lab.snapshotTimes(101);
    assert.ok((times.pre_patch ?? 0) >= before && (times.pre_patch ?? 0) <= Date.now());
    const meta = JSON.parse(await readFile(path.join(dir, 'guests/101/snapshots/pre_patch/meta.json'), 'utf8'));
    assert.equal(typeof meta.createdAt, 'number');

    const upgrade = await lab.exec(101, [...UPGRADE, 'install', 'demo-app']);
    assert.equal(upgrade.exitCode, 0, upgrade.stderr);
    assert.equal(await lab.dpkgVersion(101, 'demo-app'), '1.1');
    assert.ok(await lab.fileExists(101, '/var/run/reboot-required'));

    await lab.snapshotBackend.rollback(101, 'pre_patch');
    assert.equal(await lab.status(101), 'running');
    assert.equal(await lab.dpkgVersion(101, 'demo-app'), '1.0');
    assert.equal(await lab.fileExists(101, '/var/run/reboot-required'), false);
    assert.equal((await lab.exec(101, ['apt-get', '-s', 'dist-upgrade'])).exitCode, 0);

    await assert.rejects(
      lab.snapshotBackend.rollback(101, 'nope'),
      /snapshot 'nope' of guest 101 - snapshot does not exist/,
    );
    await lab.snapshotBackend.remove(101, 'pre_patch');
    assert.deepEqual(lab.snapshotTimes(101), {});
    await assert.rejects(lab.snapshotBackend.remove(101, 'pre_patch'), /does not exist/);
  });

  test('an admin-edited conffile survives the upgrade as .dpkg-dist', async () => {
    await lab.setStatus(102, 'running');
    await lab.execOk(102, ['apt-get', 'update', '-q']);
    const confold = ['-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'];
    await lab.execOk(102, [...UPGRADE, ...confold, 'dist-upgrade']);
    for (const pkg of DEMO_PACKAGE_NAMES) assert.equal(await lab.dpkgVersion(102, pkg), '1.1');
    assert.ok(await lab.fileExists(102, '/etc/demo-conf.conf.dpkg-dist'));
    assert.match((await lab.execOk(102, ['cat', '/etc/demo-conf.conf'])).stdout, /setting=custom/);
    assert.equal((await lab.execOk(102, ['cat', '/var/run/reboot-required.pkgs'])).stdout, 'demo-app\n');
  });

  test('destroy removes every mount and the lab dir, and can run twice', async () => {
    await lab.destroy();
    await lab.destroy();
    if (vmInit > 0) assert.equal(existsSync(`/proc/${vmInit}`), false, "the VM's init was stopped too");
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    assert.equal(mountinfo.includes(dir), false);
    assert.equal(existsSync(dir), false);
  });
});
