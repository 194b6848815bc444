/**
 * The zypper driver against real openSUSE-flavoured lab guests: the host's zypper and rpm run
 * inside each guest behind the lab's pct shim, with a Leap os-release, Leap's multiversion
 * kernels, an updateinfo security patch for demo-sec and the zypp lock in /run/zypp.pid.
 * Needs root (mounts, namespaces) and zypper, rpm, createrepo_c on the host.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { detectOs } from '../../daemon/drivers/detect.js';
import { GuestExec } from '../../daemon/drivers/shared/guest-exec.js';
import type { DriverContext } from '../../daemon/drivers/types.js';
import { zypperDriver } from '../../daemon/drivers/zypper/index.js';
import { Lab } from '../guests/lab.js';
import { driverContext } from './context.js';
import { LabTransport } from './lab-transport.js';

const VM = { list: 401, upgrade: 402, exclude: 403, security: 404, dry: 405, lock: 406 };
const DEMO = ['demo-app', 'demo-conf', 'demo-lib', 'demo-sec', 'demo-tool'] as const;
const isRoot = process.getuid?.() === 0;
const hasZypper = ['/usr/bin/zypper', '/usr/bin/createrepo_c', '/usr/bin/rpmbuild'].every((p) => existsSync(p));
const skip = !isRoot
  ? 'needs root for mounts and namespaces'
  : !hasZypper
    ? 'needs zypper, rpmbuild, createrepo_c'
    : false;

describe('zypper driver on real openSUSE lab guests', { skip }, () => {
  let lab: Lab;

  before(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pvepatch-zypper-'));
    const guests = Object.values(VM).map((vmid) => ({ vmid, flavour: 'opensuse' as const, modifyConffile: true }));
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
    for (const pkg of [...DEMO, 'kernel-default']) out[pkg] = await lab.packageVersion(vmid, pkg);
    return out;
  }

  const at = (demo: string, kernel: string) => ({
    ...Object.fromEntries(DEMO.map((p) => [p, demo])),
    'kernel-default': kernel,
  });

  async function lockNames(vmid: number): Promise<string[]> {
    const res = await lab.execOk(vmid, ['zypper', '--non-interactive', '--xmlout', 'locks']);
    return [...res.stdout.matchAll(/<name>([^<]+)<\/name>/g)].map((m) => m[1] ?? '');
  }

  it('detects zypper and lists exactly the pending updates, demo-sec as security', async () => {
    const { ctx, transport } = guest(VM.list);
    const os = await detectOs(new GuestExec(transport), { ostype: 'opensuse' });
    assert.deepEqual([os.id, os.family], ['opensuse-leap', 'zypper']);
    await zypperDriver.refresh(ctx);
    const list = await zypperDriver.listUpdates(ctx);
    assert.deepEqual(list.map((u) => [u.package, u.current_version, u.new_version, u.repository, u.security]).sort(), [
      ['demo-app', '1.0-1', '1.1-1', 'demo', false],
      ['demo-conf', '1.0-1', '1.1-1', 'demo', false],
      ['demo-lib', '1.0-1', '1.1-1', 'demo', false],
      ['demo-sec', '1.0-1', '1.1-1', 'demo', true],
      ['demo-tool', '1.0-1', '1.1-1', 'demo', false],
      ['kernel-default', '6.1.0-1', '6.2.0-1', 'demo', false],
    ]);
  });

  it('upgrade brings everything to the new versions, marks the reboot, keeps the edited conffile; again: no-op', async () => {
    const { ctx } = guest(VM.upgrade);
    await zypperDriver.refresh(ctx);
    assert.deepEqual(await zypperDriver.precheck(ctx), { ok: true, problems: [] });
    const res = await zypperDriver.upgrade(ctx, { exclude: [] });
    assert.deepEqual(await versions(VM.upgrade), at('1.1-1', '6.2.0-1'));
    assert.deepEqual(await lab.packageVersions(VM.upgrade, 'kernel-default'), ['6.1.0-1', '6.2.0-1'], 'multiversion');
    assert.deepEqual(
      res.changed.map((c) => [c.package, c.before, c.after]),
      [...DEMO.map((p) => [p, '1.0-1', '1.1-1']), ['kernel-default', '6.1.0-1', '6.2.0-1']],
    );
    assert.equal(res.rebootRequired, true);
    assert.deepEqual([...res.rebootPackages].sort(), ['demo-app', 'kernel-default']);
    assert.deepEqual(res.conffilesPending, ['/etc/demo-conf.conf.rpmnew']);
    assert.deepEqual(res.adminHolds, []);
    assert.ok(Array.isArray(res.servicesToRestart));
    assert.equal((await zypperDriver.rebootRequired(ctx)).required, true);

    const again = await zypperDriver.upgrade(ctx, { exclude: [] });
    assert.deepEqual(again.changed, []);
    assert.deepEqual(again.conffilesPending, []);
    assert.deepEqual(await zypperDriver.listUpdates(ctx), []);
  });

  it("exclusion keeps its package back with a lock that is gone afterwards; the admin's lock stays", async () => {
    const { ctx, transport } = guest(VM.exclude);
    await lab.execOk(VM.exclude, ['zypper', '--non-interactive', 'addlock', 'demo-lib']);
    await zypperDriver.refresh(ctx);
    const recorded: Array<{ holds: string[]; lockedThen: string[] }> = [];
    const recordHolds = async (holds: string[]) => {
      recorded.push({ holds, lockedThen: await lockNames(VM.exclude) });
    };
    const res = await zypperDriver.upgrade(ctx, { exclude: ['demo-tool', 'demo-lib'], recordHolds });
    assert.deepEqual(recorded, [
      { holds: ['demo-tool'], lockedThen: ['demo-lib'] },
      { holds: [], lockedThen: ['demo-lib'] },
    ]);
    assert.deepEqual(await versions(VM.exclude), {
      ...at('1.1-1', '6.2.0-1'),
      'demo-lib': '1.0-1',
      'demo-tool': '1.0-1',
    });
    assert.deepEqual(await lockNames(VM.exclude), ['demo-lib']);
    assert.deepEqual(res.adminHolds, ['demo-lib']);
    const lockCalls = transport.calls.filter((c) => c.includes('addlock') || c.includes('removelock'));
    assert.deepEqual(
      lockCalls.map((c) => c.slice(c.indexOf('zypper'))),
      [
        ['zypper', '--non-interactive', '--no-color', 'addlock', '--', 'demo-tool'],
        ['zypper', '--non-interactive', '--no-color', 'removelock', '--', 'demo-tool'],
      ],
    );
  });

  it('securityOnly upgrades only what the security patch covers', async () => {
    const { ctx } = guest(VM.security);
    await zypperDriver.refresh(ctx);
    const res = await zypperDriver.upgrade(ctx, { exclude: [], securityOnly: true });
    assert.deepEqual(await versions(VM.security), { ...at('1.0-1', '6.1.0-1'), 'demo-sec': '1.1-1' });
    assert.deepEqual(res.changed, [{ package: 'demo-sec', before: '1.0-1', after: '1.1-1' }]);
    const left = await zypperDriver.listUpdates(ctx);
    assert.ok(!left.some((u) => u.security), 'no security update left');
    assert.equal(left.length, 5);
  });

  it('dry run reports what would change and changes nothing', async () => {
    const { ctx, transport } = guest(VM.dry);
    await zypperDriver.refresh(ctx);
    const res = await zypperDriver.upgrade(ctx, {
      exclude: ['demo-tool'],
      dryRun: true,
      recordHolds: async () => assert.fail('a dry run records no locks'),
    });
    assert.deepEqual(res.changed.map((c) => c.package).sort(), [
      'demo-app',
      'demo-conf',
      'demo-lib',
      'demo-sec',
      'kernel-default',
    ]);
    assert.deepEqual(await versions(VM.dry), at('1.0-1', '6.1.0-1'));
    const mutating = transport.calls.filter(
      (c) => c.includes('addlock') || c.includes('removelock') || c.includes('patch') || c.at(-1) === 'update',
    );
    assert.deepEqual(mutating, []);
    assert.deepEqual(await lockNames(VM.dry), []);
  });

  it('a held zypp lock fails as locked after the wait, naming the holder, and changes nothing', async () => {
    const { ctx } = guest(VM.lock, 2000);
    await zypperDriver.refresh(ctx);
    const holder = await lab.holdPackageLock(VM.lock, 60);
    try {
      const recorded: string[][] = [];
      const started = Date.now();
      await assert.rejects(
        zypperDriver.upgrade(ctx, { exclude: ['demo-tool'], recordHolds: async (h) => void recorded.push(h) }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'locked');
          assert.match(
            err.message,
            new RegExp(
              `^unable to upgrade packages - zypp lock /run/zypp\\.pid is held by process ${holder.pid} \\(.+\\) after waiting 2s$`,
            ),
          );
          return true;
        },
      );
      assert.ok(Date.now() - started >= 2000, 'waited for the lock');
      assert.deepEqual(recorded, []);
      const pre = await zypperDriver.precheck(ctx);
      assert.equal(pre.ok, false);
      assert.match(pre.problems.join('\n'), new RegExp(`held by process ${holder.pid} `));
    } finally {
      await holder.release();
    }
    assert.deepEqual(await versions(VM.lock), at('1.0-1', '6.1.0-1'));
    assert.deepEqual(await lockNames(VM.lock), []);
  });
});
