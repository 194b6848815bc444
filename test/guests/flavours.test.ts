import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseOsRelease } from '../../daemon/drivers/os-release.js';
import { FAMILY_DEMO_NAMES } from './flavours/demo-set.js';
import { kernelPackageOf } from './flavours/index.js';
import { Lab } from './lab.js';
import { run } from './run.js';

const FEDORA = 301;
const SUSE = 302;
const ARCH = 303;
const ALL = [FEDORA, SUSE, ARCH];
const ZYPPER = ['zypper', '--non-interactive'];

describe('host-userland guest flavours (fedora, opensuse, arch)', () => {
  let lab: Lab;

  before(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pvepatch-lab-'));
    lab = await Lab.create({
      dir,
      guests: [
        { vmid: FEDORA, flavour: 'fedora', modifyConffile: true },
        { vmid: SUSE, flavour: 'opensuse', hostname: 'leap1', modifyConffile: true },
        { vmid: ARCH, flavour: 'arch', modifyConffile: true },
      ],
    });
  });

  after(async () => {
    await lab?.destroy();
  });

  const kernel = (vmid: number) => kernelPackageOf(lab.flavour(vmid)) ?? '';

  test('v1: demo packages at 1.0-1, the kernel at 6.1.0-1, the family os-release and no Debian tools', async () => {
    const expected: Record<number, [string, string[], string]> = {
      [FEDORA]: ['fedora', [], 'fedora'],
      [SUSE]: ['opensuse-leap', ['suse', 'opensuse'], 'opensuse'],
      [ARCH]: ['arch', [], 'archlinux'],
    };
    for (const vmid of ALL) {
      for (const pkg of FAMILY_DEMO_NAMES) assert.equal(await lab.packageVersion(vmid, pkg), '1.0-1', `${vmid} ${pkg}`);
      assert.equal(await lab.packageVersion(vmid, kernel(vmid)), '6.1.0-1');
      assert.equal(await lab.packageVersion(vmid, 'demo-missing'), null);
      const release = parseOsRelease((await lab.execOk(vmid, ['cat', '/etc/os-release'])).stdout);
      const [id, idLike, ostype] = expected[vmid] ?? ['', [], ''];
      assert.deepEqual([release.id, release.idLike], [id, idLike]);
      assert.match(await readFile(lab.paths(vmid).conf, 'utf8'), new RegExp(`^ostype: ${ostype}$`, 'm'));
      for (const tool of ['/usr/bin/apt-get', '/usr/bin/dpkg', '/usr/local/bin']) {
        assert.equal(await lab.fileExists(vmid, tool), tool === '/usr/local/bin', `${vmid} ${tool}`);
      }
    }
    assert.deepEqual(
      ALL.map((v) => lab.flavour(v)),
      ['fedora', 'opensuse', 'arch'],
    );
    assert.equal(await lab.fileExists(FEDORA, '/usr/bin/zypper'), false);
    assert.equal(await lab.fileExists(ARCH, '/usr/bin/rpm'), false);
    assert.equal((await lab.exec(ARCH, ['pacman', '-Qu'])).exitCode, 1, 'pacman -Qu: nothing to upgrade');
    assert.equal((await lab.exec(SUSE, [...ZYPPER, 'needs-rebooting'])).exitCode, 0, 'fresh guest: no reboot');
  });

  test('dnf: the lock of a running dnf transaction; rpm alone: its transaction lock', async () => {
    const reinstall = ['dnf', '-y', '--setopt=exit_on_lock=True', 'reinstall', 'demo-tool'];
    const hold = await lab.holdPackageLock(FEDORA, 60);
    try {
      const res = await lab.exec(FEDORA, reinstall);
      assert.equal(res.exitCode, 200, res.stdout + res.stderr);
      assert.match(res.stderr, new RegExp(`^RPMDB already locked by ${hold.pid}$`, 'm'));
      assert.match(res.stderr, new RegExp(`^ {2}The application with PID ${hold.pid} is: perl$`, 'm'));
    } finally {
      await hold.release();
    }
    const rpmOnly = await lab.holdPackageLock(FEDORA, 60, 'database');
    try {
      const res = await lab.exec(FEDORA, reinstall);
      assert.equal(res.exitCode, 1, res.stdout + res.stderr);
      const msg = "can't create transaction lock on /var/lib/rpm/.rpm.lock (Resource temporarily unavailable)";
      assert.ok(res.stdout.includes(msg) || res.stderr.includes(msg), res.stdout + res.stderr);
      assert.match(res.stderr, /^Error: Could not run transaction\.$/m);
    } finally {
      await rpmOnly.release();
    }
    assert.equal((await lab.exec(FEDORA, reinstall)).exitCode, 0, 'free again after release');
    assert.equal(await lab.fileExists(FEDORA, '/var/lib/dnf/rpmdb_lock.pid'), false);
  });

  test('zypper: exit 7, "System management is locked by the application with pid N (perl)"', async () => {
    const hold = await lab.holdPackageLock(SUSE, 60);
    try {
      const res = await lab.exec(SUSE, [...ZYPPER, 'install', 'demo-tool']);
      assert.equal(res.exitCode, 7, res.stdout + res.stderr);
      const msg = `System management is locked by the application with pid ${hold.pid} (perl).`;
      assert.ok(res.stderr.includes(msg), res.stderr);
    } finally {
      await hold.release();
    }
    assert.equal((await lab.exec(SUSE, ['test', '-e', '/run/zypp.pid'])).exitCode, 1);
    assert.equal((await lab.exec(SUSE, [...ZYPPER, 'refresh'])).exitCode, 0, 'free again after release');
  });

  test('pacman: "unable to lock database" while db.lck exists', async () => {
    const hold = await lab.holdPackageLock(ARCH, 60);
    try {
      const syu = await lab.exec(ARCH, ['pacman', '-Syu', '--noconfirm']);
      assert.equal(syu.exitCode, 1, syu.stdout + syu.stderr);
      assert.equal(syu.stderr, 'error: failed to synchronize all databases (unable to lock database)\n');
      const su = await lab.exec(ARCH, ['pacman', '-Su', '--noconfirm']);
      assert.equal(su.exitCode, 1, su.stdout + su.stderr);
      assert.match(su.stderr, /^error: failed to init transaction \(unable to lock database\)$/m);
      assert.match(su.stderr, /^error: could not lock database: File exists$/m);
    } finally {
      await hold.release();
    }
    assert.equal(await lab.fileExists(ARCH, '/var/lib/pacman/db.lck'), false);
  });

  test('v2: every tool lists the updates; dnf and zypper see the security advisory', async () => {
    await lab.setRepo('v2');
    const names = [...FAMILY_DEMO_NAMES].sort();
    // dnf keeps metadata for metadata_expire (6h): without a refresh it still sees v1
    assert.equal((await lab.exec(FEDORA, ['dnf', '-q', 'check-update'])).exitCode, 0);
    await lab.setRepo('v2', { update: true });
    const check = await lab.exec(FEDORA, ['dnf', '-q', 'check-update']);
    assert.equal(check.exitCode, 100, check.stderr);
    const dnfUpdates = check.stdout
      .split('\n')
      .map((l) => l.split(/\s+/))
      .filter((f) => f.length === 3);
    assert.deepEqual(
      dnfUpdates.map((f) => f[0]).sort(),
      [...names.map((n) => `${n}.noarch`), 'kernel-core.x86_64'].sort(),
    );
    assert.ok(dnfUpdates.every(([, v, repo]) => (v === '1.1-1' || v === '6.2.0-1') && repo === 'demo'));
    assert.equal((await lab.exec(FEDORA, ['yum', '-q', 'check-update'])).exitCode, 100, 'yum is dnf, as on Fedora');
    const sec = await lab.execOk(FEDORA, ['dnf', '-q', 'updateinfo', 'list', '--security']);
    assert.match(sec.stdout, /^FEDORA-2026-0001 Important\/Sec\. +demo-sec-1\.1-1\.noarch$/m);
    assert.doesNotMatch(sec.stdout, /demo-tool/);
    const all = await lab.execOk(FEDORA, ['dnf', '-q', 'updateinfo', 'list']);
    assert.match(all.stdout, /^FEDORA-2026-0002 bugfix +demo-tool-1\.1-1\.noarch$/m);

    const lu = await lab.execOk(SUSE, [...ZYPPER, '--xmlout', 'list-updates']);
    const zypp = [...lu.stdout.matchAll(/<update kind="package" name="([^"]+)" edition="([^"]+)"/g)];
    assert.deepEqual(zypp.map((m) => m[1]).sort(), [...names, 'kernel-default'].sort());
    const lp = await lab.execOk(SUSE, [...ZYPPER, 'list-patches', '--category', 'security']);
    assert.match(lp.stdout, /\| openSUSE-SU-2026:0001-1 \| security +\| important +\| --- +\| needed +\|/);
    assert.match(lp.stdout, /^1 patch needed \(1 security patch\)$/m);

    await lab.execOk(ARCH, ['pacman', '-Syy']);
    const qu = await lab.execOk(ARCH, ['pacman', '-Qu']);
    const expectedQu = [...names.map((n) => `${n} 1.0-1 -> 1.1-1`), 'linux 6.1.0-1 -> 6.2.0-1'].sort();
    assert.deepEqual(qu.stdout.trim().split('\n').sort(), expectedQu);
  });

  test('snapshot, security-only and full upgrades inside the guests, rollback restores 1.0', async () => {
    for (const vmid of ALL) await lab.snapshotBackend.create(vmid, 'before');

    await lab.execOk(FEDORA, ['dnf', '-y', '-q', '--security', 'upgrade']);
    const patch = await lab.exec(SUSE, [...ZYPPER, 'patch', '--category', 'security']);
    assert.ok([0, 102, 103].includes(patch.exitCode), patch.stdout + patch.stderr);
    for (const vmid of [FEDORA, SUSE]) {
      assert.equal(await lab.packageVersion(vmid, 'demo-sec'), '1.1-1', `${vmid} security fix`);
      assert.equal(await lab.packageVersion(vmid, 'demo-tool'), '1.0-1', `${vmid} no bugfix`);
    }

    await lab.execOk(FEDORA, ['dnf', '-y', 'upgrade']);
    await lab.execOk(SUSE, [...ZYPPER, 'update']);
    await lab.execOk(ARCH, ['pacman', '-Syu', '--noconfirm']);
    for (const vmid of ALL) {
      for (const pkg of FAMILY_DEMO_NAMES) assert.equal(await lab.packageVersion(vmid, pkg), '1.1-1', `${vmid} ${pkg}`);
      assert.equal(await lab.packageVersion(vmid, kernel(vmid)), '6.2.0-1');
      const pkgs = await lab.execOk(vmid, ['cat', '/run/reboot-required.pkgs']);
      assert.equal(pkgs.stdout, 'demo-app\n', `${vmid} reboot-required.pkgs`);
      assert.equal(await lab.fileExists(vmid, '/run/reboot-required'), true);
      const suffix = vmid === ARCH ? '.pacnew' : '.rpmnew';
      assert.equal(await lab.fileExists(vmid, `/etc/demo-conf.conf${suffix}`), true, `${vmid} ${suffix}`);
      assert.match((await lab.execOk(vmid, ['cat', '/etc/demo-conf.conf'])).stdout, /setting=custom/);
    }
    const needsReboot = await lab.exec(SUSE, [...ZYPPER, 'needs-rebooting']);
    assert.equal(needsReboot.exitCode, 102, 'kernel-default is in /etc/zypp/needreboot');
    // install-only kernels: the new one is installed beside the old one
    assert.deepEqual(await lab.packageVersions(FEDORA, 'kernel-core'), ['6.1.0-1', '6.2.0-1']);
    assert.deepEqual(await lab.packageVersions(SUSE, 'kernel-default'), ['6.1.0-1', '6.2.0-1']);
    assert.deepEqual(await lab.packageVersions(ARCH, 'linux'), ['6.2.0-1']);

    // the host's /usr and package databases saw none of it
    assert.equal(existsSync('/usr/share/demo-lib'), false);
    assert.equal(existsSync('/usr/lib/modules/6.2.0-1.fc40.x86_64'), false);
    assert.equal(existsSync('/usr/bin/apt-get'), true);
    assert.equal(parseOsRelease(await readFile('/usr/lib/os-release', 'utf8')).id, 'debian');
    const hostRpm = await run(['rpm', '-qa']);
    assert.doesNotMatch(hostRpm.stdout, /demo-|kernel-core|kernel-default|release/);
    assert.notEqual((await run(['pacman', '-Q', 'demo-lib'])).exitCode, 0);

    for (const vmid of ALL) await lab.snapshotBackend.rollback(vmid, 'before');
    for (const vmid of ALL) {
      assert.equal(await lab.status(vmid), 'running');
      for (const pkg of FAMILY_DEMO_NAMES) assert.equal(await lab.packageVersion(vmid, pkg), '1.0-1', `${vmid} ${pkg}`);
      assert.deepEqual(await lab.packageVersions(vmid, kernel(vmid)), ['6.1.0-1']);
      assert.equal((await lab.execOk(vmid, ['cat', '/usr/share/demo-lib/VERSION'])).stdout, '1.0\n');
      assert.equal(await lab.fileExists(vmid, '/usr/lib/modules/6.2.0-1.fc40.x86_64'), false);
      const suffix = vmid === ARCH ? '.pacnew' : '.rpmnew';
      assert.equal(await lab.fileExists(vmid, `/etc/demo-conf.conf${suffix}`), false);
      assert.equal(await lab.fileExists(vmid, '/run/reboot-required'), false);
      // the whiteouts and the opaque /usr/local of the /usr upper came back too
      assert.equal(await lab.fileExists(vmid, '/usr/bin/apt-get'), false);
      assert.equal((await lab.execOk(vmid, ['ls', '-A', '/usr/local/bin'])).stdout, '');
    }
  });

  test('stopped guests: packageVersion reads the database through chroot', async () => {
    await lab.setStatus(SUSE, 'stopped');
    assert.equal(await lab.packageVersion(SUSE, 'demo-app'), '1.0-1');
    assert.equal(await lab.packageVersion(SUSE, 'openSUSE-release'), '15.6-1');
    await lab.setStatus(SUSE, 'running');
    const res = await lab.exec(SUSE, [...ZYPPER, 'list-updates']);
    assert.equal(res.exitCode, 0, res.stderr);
  });
});
