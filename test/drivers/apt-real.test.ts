/**
 * The apt driver against real Debian 12 lab guests (overlayfs roots behind the lab's pct shim):
 * real apt-get, apt-mark and dpkg, real fcntl locks. Needs root (mounts, namespaces).
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aptDriver } from '../../daemon/drivers/apt/index.js';
import type { DriverContext } from '../../daemon/drivers/types.js';
import { buildRepo } from '../guests/apt-repo.js';
import { DEMO_PACKAGE_NAMES, demoRepoLayout, MAIN_RELEASE } from '../guests/demo-packages.js';
import { Lab } from '../guests/lab.js';
import { driverContext } from './context.js';
import { LabTransport } from './lab-transport.js';

const VM = { list: 301, upgrade: 302, exclude: 303, lock: 304, dry: 305, broken: 306, fails: 307, origin: 308 };
const isRoot = process.getuid?.() === 0;

describe('apt driver on real lab guests', { skip: isRoot ? false : 'needs root for mounts and namespaces' }, () => {
  let lab: Lab;

  before(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pvepatch-apt-'));
    lab = await Lab.create({ dir, guests: Object.values(VM).map((vmid) => ({ vmid })), repo: 'v2' });
  });

  after(async () => {
    await lab?.destroy();
  });

  function guest(vmid: number, lockTimeoutMs = 2000): { ctx: DriverContext; transport: LabTransport } {
    const transport = new LabTransport(lab.pctPath, vmid);
    return { ctx: driverContext(transport, { lockTimeoutMs }), transport };
  }

  async function versions(vmid: number): Promise<Record<string, string | null>> {
    const out: Record<string, string | null> = {};
    for (const pkg of DEMO_PACKAGE_NAMES) out[pkg] = await lab.dpkgVersion(vmid, pkg);
    return out;
  }

  const all = (v: string) => Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, v]));

  async function showhold(vmid: number): Promise<string[]> {
    const res = await lab.exec(vmid, ['apt-mark', 'showhold']);
    return res.stdout.split('\n').filter((l) => l.length > 0);
  }

  it('listUpdates lists exactly the five demo packages, demo-sec as security', async () => {
    const { ctx } = guest(VM.list);
    await aptDriver.refresh(ctx);
    const list = await aptDriver.listUpdates(ctx);
    assert.deepEqual(list.map((u) => [u.package, u.current_version, u.new_version, u.repository, u.security]).sort(), [
      ['demo-app', '1.0', '1.1', 'Demo:1.0/stable', false],
      ['demo-conf', '1.0', '1.1', 'Demo:1.0/stable', false],
      ['demo-lib', '1.0', '1.1', 'Demo:1.0/stable', false],
      ['demo-sec', '1.0', '1.1', 'Debian-Security:12/bookworm-security', true],
      ['demo-tool', '1.0', '1.1', 'Demo:1.0/stable', false],
    ]);
  });

  it('upgrade moves all to 1.1, reports reboot and the kept conffile; a second run changes nothing', async () => {
    const { ctx } = guest(VM.upgrade);
    await lab.execOk(VM.upgrade, ['tee', '-a', '/etc/demo-conf.conf'], { input: 'setting=admin\n' });
    await lab.execOk(VM.upgrade, ['mkdir', '-p', '/var/lib/man-db']);
    await lab.execOk(VM.upgrade, ['touch', '/var/lib/man-db/auto-update']);
    await aptDriver.refresh(ctx);
    assert.deepEqual(await aptDriver.precheck(ctx), { ok: true, problems: [] });
    const res = await aptDriver.upgrade(ctx, { exclude: [] });
    assert.deepEqual(await versions(VM.upgrade), all('1.1'));
    assert.deepEqual(
      res.changed,
      [...DEMO_PACKAGE_NAMES].sort().map((p) => ({ package: p, before: '1.0', after: '1.1' })),
    );
    assert.equal(res.rebootRequired, true);
    assert.deepEqual(res.rebootPackages, ['demo-app']);
    assert.deepEqual(await aptDriver.rebootRequired(ctx), { required: true, packages: ['demo-app'] });
    assert.deepEqual(res.conffilesPending, ['/etc/demo-conf.conf.dpkg-dist']);
    const conf = await lab.execOk(VM.upgrade, ['cat', '/etc/demo-conf.conf']);
    assert.match(conf.stdout, /setting=admin/);
    assert.equal(await lab.fileExists(VM.upgrade, '/var/lib/man-db/auto-update'), true);
    assert.equal(await lab.fileExists(VM.upgrade, '/var/lib/man-db/auto-update.pvepatch'), false);

    const again = await aptDriver.upgrade(ctx, { exclude: [] });
    assert.deepEqual(again.changed, []);
    assert.deepEqual(again.conffilesPending, []);
    assert.deepEqual(await aptDriver.listUpdates(ctx), []);
  });

  it('exclude keeps demo-tool back with a recorded hold that is gone afterwards; the admin hold stays', async () => {
    const { ctx, transport } = guest(VM.exclude);
    await lab.execOk(VM.exclude, ['apt-mark', 'hold', 'demo-lib']);
    await aptDriver.refresh(ctx);
    assert.deepEqual((await aptDriver.listUpdates(ctx)).map((u) => u.package).sort(), [
      'demo-app',
      'demo-conf',
      'demo-sec',
      'demo-tool',
    ]);
    const recorded: Array<{ holds: string[]; heldThen: string[] }> = [];
    const recordHolds = async (holds: string[]) => {
      recorded.push({ holds, heldThen: await showhold(VM.exclude) });
    };
    const res = await aptDriver.upgrade(ctx, { exclude: ['demo-tool', 'demo-lib'], recordHolds });
    assert.deepEqual(recorded, [
      { holds: ['demo-tool'], heldThen: ['demo-lib'] },
      { holds: [], heldThen: ['demo-lib'] },
    ]);
    assert.deepEqual(await versions(VM.exclude), { ...all('1.1'), 'demo-lib': '1.0', 'demo-tool': '1.0' });
    assert.deepEqual(await showhold(VM.exclude), ['demo-lib']);
    assert.deepEqual(res.adminHolds, ['demo-lib']);
    const marks = transport.calls.filter((c) => c.includes('apt-mark') && !c.includes('showhold'));
    assert.deepEqual(marks, [
      ['env', 'DEBIAN_FRONTEND=noninteractive', 'LC_ALL=C', 'apt-mark', 'hold', '--', 'demo-tool'],
      ['env', 'DEBIAN_FRONTEND=noninteractive', 'LC_ALL=C', 'apt-mark', 'unhold', '--', 'demo-tool'],
    ]);
  });

  it('a held dpkg lock fails as locked, naming the holder after the wait, and changes nothing', async () => {
    const { ctx } = guest(VM.lock, 2000);
    await aptDriver.refresh(ctx);
    const holder = await lab.holdDpkgLock(VM.lock, 60);
    try {
      const recorded: string[][] = [];
      const started = Date.now();
      await assert.rejects(
        aptDriver.upgrade(ctx, { exclude: ['demo-tool'], recordHolds: async (h) => void recorded.push(h) }),
        {
          code: 'locked',
          message: `unable to upgrade packages - dpkg lock /var/lib/dpkg/lock-frontend is held by process ${holder.pid} (perl) after waiting 2s`,
        },
      );
      assert.ok(Date.now() - started >= 2000, 'waited for the lock');
      assert.deepEqual(recorded, []);
      const pre = await aptDriver.precheck(ctx);
      assert.equal(pre.ok, false);
      assert.match(pre.problems.join('\n'), new RegExp(`held by process ${holder.pid} \\(perl\\)`));
    } finally {
      await holder.release();
    }
    assert.deepEqual(await versions(VM.lock), all('1.0'));
    assert.deepEqual(await showhold(VM.lock), []);
  });

  it('dry run reports what would change and touches nothing', async () => {
    const { ctx, transport } = guest(VM.dry);
    await aptDriver.refresh(ctx);
    const res = await aptDriver.upgrade(ctx, {
      exclude: ['demo-tool'],
      dryRun: true,
      recordHolds: async () => assert.fail(),
    });
    assert.deepEqual(res.changed.map((c) => c.package).sort(), ['demo-app', 'demo-conf', 'demo-lib', 'demo-sec']);
    assert.deepEqual(await versions(VM.dry), all('1.0'));
    const mutating = transport.calls.filter(
      (c) => c.includes('hold') || c.includes('mv') || c.at(-1) === 'dist-upgrade',
    );
    assert.deepEqual(
      mutating.map((c) => c.join(' ')),
      ['env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -o Dpkg::Use-Pty=0 -s dist-upgrade'],
    );
  });

  it('a broken dpkg state fails precheck; fixBroken lets the upgrade repair it', async () => {
    const { ctx } = guest(VM.broken);
    await aptDriver.refresh(ctx);
    await lab.execOk(VM.broken, ['dpkg', '--unpack', '/srv/repo/demo-tool_1.1_all.deb']);
    const pre = await aptDriver.precheck(ctx);
    assert.equal(pre.ok, false);
    assert.match(pre.problems[0] ?? '', /^dpkg reports a broken package state - demo-tool/);
    assert.deepEqual(await aptDriver.precheck(ctx, { fixBroken: true }), { ok: true, problems: [] });
    await aptDriver.upgrade(ctx, { exclude: [], fixBroken: true });
    assert.deepEqual(await versions(VM.broken), all('1.1'));
    assert.deepEqual(await aptDriver.precheck(ctx), { ok: true, problems: [] });
  });

  it('a failing dpkg run throws patch-failed after removing its holds and restoring man-db', async () => {
    const { ctx } = guest(VM.fails);
    await aptDriver.refresh(ctx);
    // demo-app 1.1's postinst appends to reboot-required.pkgs; a directory there makes it exit 1
    await lab.execOk(VM.fails, ['mkdir', '-p', '/var/lib/man-db', '/var/run/reboot-required.pkgs/blocker']);
    await lab.execOk(VM.fails, ['touch', '/var/lib/man-db/auto-update']);
    const recorded: string[][] = [];
    await assert.rejects(
      aptDriver.upgrade(ctx, { exclude: ['demo-tool'], recordHolds: async (h) => void recorded.push(h) }),
      {
        code: 'patch-failed',
        message: 'unable to upgrade packages - Sub-process /usr/bin/dpkg returned an error code (1)',
      },
    );
    assert.deepEqual(recorded, [['demo-tool'], []]);
    assert.deepEqual(await showhold(VM.fails), []);
    assert.equal(await lab.fileExists(VM.fails, '/var/lib/man-db/auto-update'), true);
    assert.equal(await lab.fileExists(VM.fails, '/var/lib/man-db/auto-update.pvepatch'), false);
    assert.equal(await lab.dpkgVersion(VM.fails, 'demo-tool'), '1.0');
  });

  it('rejects a malformed exclude before anything runs in the guest', async () => {
    const { ctx, transport } = guest(VM.dry);
    await assert.rejects(aptDriver.upgrade(ctx, { exclude: ['nginx;rm -rf /'] }), { code: 'input-invalid' });
    await assert.rejects(aptDriver.releaseHolds(ctx, ['-a']), { code: 'input-invalid' });
    assert.deepEqual(transport.calls, []);
  });

  it('refresh survives a changed Release Origin/Label where plain apt-get update fails', async () => {
    const { ctx } = guest(VM.origin);
    await aptDriver.refresh(ctx);
    const debs = demoRepoLayout('v2').main.map((k) => path.join(lab.dir, 'debs', `${k}_all.deb`));
    await buildRepo(path.join(lab.dir, 'repos', 'main'), debs, { ...MAIN_RELEASE, origin: 'Demo2', label: 'Demo2' });
    const plain = await lab.exec(VM.origin, ['apt-get', 'update']);
    assert.equal(plain.exitCode, 100);
    assert.match(plain.stderr, /changed its 'Origin' value from 'Demo' to 'Demo2'/);
    await aptDriver.refresh(ctx);
    const list = await aptDriver.listUpdates(ctx);
    assert.equal(list.find((u) => u.package === 'demo-app')?.repository, 'Demo2:1.0/stable');
  });
});
