/**
 * The dnf driver against real Fedora-flavoured lab guests (test/guests/flavours/fedora.ts: the
 * host's dnf 4 and rpm in an overlay root, demo repo with updateinfo, install-only kernel-core)
 * behind the lab's pct shim. Needs root (mounts, namespaces).
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPvepatchError } from '../../daemon/core/errors.js';
import { detectOs } from '../../daemon/drivers/detect.js';
import { dnfDriver } from '../../daemon/drivers/dnf/index.js';
import type { DriverContext } from '../../daemon/drivers/types.js';
import { Lab } from '../guests/lab.js';
import { driverContext } from './context.js';
import { LabTransport } from './lab-transport.js';

const VM = { list: 711, upgrade: 712, exclude: 713, admin: 714, security: 715, dry: 716, lock: 717, wait: 718 };
const DEMO = ['demo-app', 'demo-conf', 'demo-lib', 'demo-sec', 'demo-tool'] as const;
const isRoot = process.getuid?.() === 0;

describe('dnf driver on real Fedora lab guests', {
  skip: isRoot ? false : 'needs root for mounts and namespaces',
}, () => {
  let lab: Lab;

  before(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pvepatch-dnf-'));
    const guests = Object.values(VM).map((vmid) => ({
      vmid,
      flavour: 'fedora' as const,
      modifyConffile: vmid === VM.upgrade,
    }));
    lab = await Lab.create({ dir, guests, repo: 'v2' });
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
    for (const pkg of [...DEMO, 'kernel-core']) out[pkg] = await lab.packageVersion(vmid, pkg);
    return out;
  }

  const V1: Record<string, string> = { ...Object.fromEntries(DEMO.map((p) => [p, '1.0-1'])), 'kernel-core': '6.1.0-1' };
  const V2: Record<string, string> = { ...Object.fromEntries(DEMO.map((p) => [p, '1.1-1'])), 'kernel-core': '6.2.0-1' };

  it('detects dnf and lists exactly the pending updates, demo-sec as security', async () => {
    const { ctx } = guest(VM.list);
    assert.equal((await detectOs(ctx.exec)).family, 'dnf');
    await dnfDriver.refresh(ctx);
    const list = await dnfDriver.listUpdates(ctx);
    assert.deepEqual(list.map((u) => [u.package, u.current_version, u.new_version, u.repository, u.security]).sort(), [
      ['demo-app', '1.0-1', '1.1-1', 'demo', false],
      ['demo-conf', '1.0-1', '1.1-1', 'demo', false],
      ['demo-lib', '1.0-1', '1.1-1', 'demo', false],
      ['demo-sec', '1.0-1', '1.1-1', 'demo', true],
      ['demo-tool', '1.0-1', '1.1-1', 'demo', false],
      ['kernel-core', '6.1.0-1', '6.2.0-1', 'demo', false],
    ]);
    assert.deepEqual(await dnfDriver.precheck(ctx), { ok: true, problems: [] });
  });

  it('upgrades everything, reports the kernel and the kept config; a second run is a no-op', async () => {
    const { ctx } = guest(VM.upgrade);
    await dnfDriver.refresh(ctx);
    const res = await dnfDriver.upgrade(ctx, { exclude: [] });
    assert.deepEqual(await versions(VM.upgrade), V2);
    assert.deepEqual(await lab.packageVersions(VM.upgrade, 'kernel-core'), ['6.1.0-1', '6.2.0-1'], 'install-only');
    assert.deepEqual(
      res.changed,
      [...DEMO, 'kernel-core'].map((p) => ({ package: p, before: V1[p] ?? null, after: V2[p] ?? null })),
    );
    assert.equal(res.rebootRequired, true);
    assert.deepEqual([...res.rebootPackages].sort(), ['demo-app', 'kernel-core']);
    assert.deepEqual(res.conffilesPending, ['/etc/demo-conf.conf.rpmnew']);
    const conf = await lab.execOk(VM.upgrade, ['cat', '/etc/demo-conf.conf']);
    assert.match(conf.stdout, /setting=custom/);
    assert.deepEqual(await dnfDriver.rebootRequired(ctx), { required: true, packages: ['demo-app'] });

    const again = await dnfDriver.upgrade(ctx, { exclude: [] });
    assert.deepEqual(again.changed, []);
    assert.deepEqual(again.conffilesPending, []);
    assert.deepEqual(await dnfDriver.listUpdates(ctx), []);
  });

  it('an exclusion keeps its package back and leaves nothing behind', async () => {
    const { ctx, transport } = guest(VM.exclude);
    const confBefore = (await lab.execOk(VM.exclude, ['cat', '/etc/dnf/dnf.conf'])).stdout;
    const recorded: string[][] = [];
    await dnfDriver.refresh(ctx);
    await dnfDriver.upgrade(ctx, { exclude: ['demo-tool'], recordHolds: async (h) => void recorded.push(h) });
    assert.deepEqual(await versions(VM.exclude), { ...V2, 'demo-tool': '1.0-1' });
    assert.deepEqual(recorded, []);
    assert.equal((await lab.execOk(VM.exclude, ['cat', '/etc/dnf/dnf.conf'])).stdout, confBefore);
    assert.equal(await lab.fileExists(VM.exclude, '/etc/dnf/plugins/versionlock.list'), false);
    assert.deepEqual(
      (await dnfDriver.listUpdates(ctx)).map((u) => u.package),
      ['demo-tool'],
    );
    const upgrade = transport.calls.find((c) => c.at(-1) === 'upgrade' && c.includes('-y'));
    assert.deepEqual(upgrade, [
      'env',
      'LC_ALL=C',
      'dnf',
      '--setopt=exit_on_lock=True',
      '-y',
      '--exclude=demo-tool',
      'upgrade',
    ]);
  });

  it("an admin's excludepkgs in dnf.conf is honoured, reported and left in place", async () => {
    const { ctx } = guest(VM.admin);
    await lab.execOk(VM.admin, ['tee', '-a', '/etc/dnf/dnf.conf'], { input: 'excludepkgs=demo-lib\n' });
    await dnfDriver.refresh(ctx);
    const listed = (await dnfDriver.listUpdates(ctx)).map((u) => u.package);
    assert.ok(!listed.includes('demo-lib'));
    const res = await dnfDriver.upgrade(ctx, { exclude: [] });
    assert.deepEqual(res.adminHolds, ['demo-lib']);
    assert.deepEqual(await versions(VM.admin), { ...V2, 'demo-lib': '1.0-1' });
    assert.match((await lab.execOk(VM.admin, ['cat', '/etc/dnf/dnf.conf'])).stdout, /^excludepkgs=demo-lib$/m);
  });

  it('security-only upgrades only demo-sec', async () => {
    const { ctx } = guest(VM.security);
    await dnfDriver.refresh(ctx);
    const res = await dnfDriver.upgrade(ctx, { exclude: [], securityOnly: true });
    assert.deepEqual(res.changed, [{ package: 'demo-sec', before: '1.0-1', after: '1.1-1' }]);
    assert.deepEqual(await versions(VM.security), { ...V1, 'demo-sec': '1.1-1' });
  });

  it('a dry run reports the plan and changes nothing', async () => {
    const { ctx } = guest(VM.dry);
    await dnfDriver.refresh(ctx);
    const res = await dnfDriver.upgrade(ctx, { exclude: ['demo-app'], dryRun: true });
    assert.deepEqual(res.changed.map((c) => [c.package, c.before, c.after]).sort(), [
      ['demo-conf', '1.0-1', '1.1-1'],
      ['demo-lib', '1.0-1', '1.1-1'],
      ['demo-sec', '1.0-1', '1.1-1'],
      ['demo-tool', '1.0-1', '1.1-1'],
      ['kernel-core', '6.1.0-1', '6.2.0-1'],
    ]);
    assert.deepEqual(await versions(VM.dry), V1);
    assert.equal(await lab.fileExists(VM.dry, '/run/reboot-required'), false);
  });

  it('a held dnf/rpm lock fails as locked after the wait, naming the holder, and changes nothing', async () => {
    const { ctx, transport } = guest(VM.lock, 1500);
    await dnfDriver.refresh(ctx);
    const hold = await lab.holdPackageLock(VM.lock, 60);
    try {
      const started = Date.now();
      await assert.rejects(dnfDriver.upgrade(ctx, { exclude: [] }), (err: unknown) => {
        assert.ok(isPvepatchError(err) && err.code === 'locked');
        assert.equal(
          err.message,
          `unable to upgrade packages - dnf lock /var/lib/dnf/rpmdb_lock.pid is held by process ${hold.pid} (perl) after waiting 2s`,
        );
        return true;
      });
      assert.ok(Date.now() - started >= 1400, 'waited for the lock');
      assert.ok(!transport.calls.some((c) => c.at(-1) === 'upgrade'));
    } finally {
      await hold.release();
    }
    const rpmOnly = await lab.holdPackageLock(VM.lock, 60, 'database');
    try {
      await assert.rejects(dnfDriver.upgrade(ctx, { exclude: [] }), {
        code: 'locked',
        message:
          'unable to upgrade packages - rpm transaction lock /var/lib/rpm/.rpm.lock is held by another process after waiting 2s',
      });
    } finally {
      await rpmOnly.release();
    }
    assert.deepEqual(await versions(VM.lock), V1);
  });

  it('a lock released during the wait lets the upgrade run', async () => {
    const { ctx } = guest(VM.wait, 30_000);
    await dnfDriver.refresh(ctx);
    const hold = await lab.holdPackageLock(VM.wait, 2);
    try {
      const res = await dnfDriver.upgrade(ctx, { exclude: [] });
      assert.equal(res.changed.length, 6);
    } finally {
      await hold.release();
    }
    assert.deepEqual(await versions(VM.wait), V2);
  });
});
