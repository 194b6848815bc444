/**
 * The pacman driver against Arch-flavoured lab guests (test/guests/flavours/arch.ts): the host's
 * real pacman 6 running inside each guest through the lab's pct shim, with the guest's own
 * /etc/pacman.conf, /var/lib/pacman and a local repository. Needs root (mounts, namespaces).
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { detectOs } from '../../daemon/drivers/detect.js';
import { pacmanDriver } from '../../daemon/drivers/pacman/index.js';
import type { DriverContext } from '../../daemon/drivers/types.js';
import { Lab } from '../guests/lab.js';
import { driverContext } from './context.js';
import { LabTransport } from './lab-transport.js';

const VM = { list: 401, upgrade: 402, exclude: 403, lock: 404, dry: 405 };
const DEMO = ['demo-app', 'demo-conf', 'demo-lib', 'demo-sec', 'demo-tool'];
const ALL = [...DEMO, 'linux'];
const isRoot = process.getuid?.() === 0;

describe('pacman driver on real Arch lab guests', {
  skip: isRoot ? false : 'needs root for mounts and namespaces',
}, () => {
  let lab: Lab;

  before(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pvepatch-pacman-'));
    const guests = Object.values(VM).map((vmid) => ({
      vmid,
      flavour: 'arch' as const,
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
    for (const pkg of ALL) out[pkg] = await lab.packageVersion(vmid, pkg);
    return out;
  }

  const v1 = { ...Object.fromEntries(DEMO.map((p) => [p, '1.0-1'])), linux: '6.1.0-1' };
  const v2 = { ...Object.fromEntries(DEMO.map((p) => [p, '1.1-1'])), linux: '6.2.0-1' };

  it('detection says pacman; listUpdates lists exactly the six pending packages with their repository', async () => {
    const { ctx, transport } = guest(VM.list);
    assert.equal((await detectOs(ctx.exec)).family, 'pacman');
    await pacmanDriver.refresh(ctx);
    const list = await pacmanDriver.listUpdates(ctx);
    assert.deepEqual(list.map((u) => [u.package, u.current_version, u.new_version, u.repository, u.security]).sort(), [
      ['demo-app', '1.0-1', '1.1-1', 'demo', false],
      ['demo-conf', '1.0-1', '1.1-1', 'demo', false],
      ['demo-lib', '1.0-1', '1.1-1', 'demo', false],
      ['demo-sec', '1.0-1', '1.1-1', 'demo', false],
      ['demo-tool', '1.0-1', '1.1-1', 'demo', false],
      ['linux', '6.1.0-1', '6.2.0-1', 'demo', false],
    ]);
    assert.deepEqual(transport.calls.at(-2), ['env', 'LC_ALL=C', 'pacman', '-Qu']);
  });

  it('upgrade moves everything to v2, reports the kernel reboot and the .pacnew; a second run is a no-op', async () => {
    const { ctx } = guest(VM.upgrade);
    await pacmanDriver.refresh(ctx);
    assert.deepEqual(await pacmanDriver.precheck(ctx), { ok: true, problems: [] });
    const res = await pacmanDriver.upgrade(ctx, { exclude: [] });
    assert.deepEqual(await versions(VM.upgrade), v2);
    assert.deepEqual(
      res.changed,
      ALL.sort().map((p) => ({ package: p, before: v1[p as keyof typeof v1], after: v2[p as keyof typeof v2] })),
    );
    assert.equal(res.rebootRequired, true);
    assert.deepEqual([...res.rebootPackages].sort(), ['demo-app', 'linux']);
    assert.deepEqual(res.conffilesPending, ['/etc/demo-conf.conf.pacnew']);
    assert.equal((await pacmanDriver.rebootRequired(ctx)).required, true, '/run/reboot-required from demo-app');
    await pacmanDriver.refresh(ctx);
    assert.deepEqual(await pacmanDriver.listUpdates(ctx), []);
    const again = await pacmanDriver.upgrade(ctx, { exclude: [] });
    assert.deepEqual(again.changed, []);
    assert.deepEqual(again.conffilesPending, []);
  });

  it("an exclusion keeps its package back and leaves nothing behind; the admin's IgnorePkg survives", async () => {
    const { ctx } = guest(VM.exclude);
    await lab.execOk(VM.exclude, [
      'sed',
      '-i',
      's/^\\[options\\]$/[options]\\nIgnorePkg = demo-sec/',
      '/etc/pacman.conf',
    ]);
    const conf = (await lab.execOk(VM.exclude, ['cat', '/etc/pacman.conf'])).stdout;
    assert.match(conf, /^IgnorePkg = demo-sec$/m);
    await pacmanDriver.refresh(ctx);
    const listed = await pacmanDriver.listUpdates(ctx, { exclude: ['demo-tool'] });
    assert.ok(listed.some((u) => u.package === 'demo-tool'));
    assert.ok(!listed.some((u) => u.package === 'demo-sec'), 'IgnorePkg keeps demo-sec out of the list');
    const res = await pacmanDriver.upgrade(ctx, { exclude: ['demo-tool'], recordHolds: async () => assert.fail() });
    assert.deepEqual(await versions(VM.exclude), { ...v2, 'demo-tool': '1.0-1', 'demo-sec': '1.0-1' });
    assert.deepEqual(res.adminHolds, ['demo-sec']);
    assert.equal((await lab.execOk(VM.exclude, ['cat', '/etc/pacman.conf'])).stdout, conf);
    assert.equal(await lab.fileExists(VM.exclude, '/var/lib/pacman/db.lck'), false);
    const after = await pacmanDriver.listUpdates(ctx);
    assert.deepEqual(
      after.map((u) => u.package),
      ['demo-tool'],
      'the exclusion was for this run only',
    );
  });

  it('dry run changes nothing', async () => {
    const { ctx } = guest(VM.dry);
    await pacmanDriver.refresh(ctx);
    const before = (await lab.execOk(VM.dry, ['pacman', '-Q'])).stdout;
    const res = await pacmanDriver.upgrade(ctx, { exclude: ['demo-tool'], dryRun: true });
    assert.deepEqual(res.changed.map((c) => c.package).sort(), ALL.filter((p) => p !== 'demo-tool').sort());
    assert.equal(res.rebootRequired, true, 'linux is in the plan');
    assert.equal((await lab.execOk(VM.dry, ['pacman', '-Q'])).stdout, before);
    assert.deepEqual(await versions(VM.dry), v1);
  });

  it("db.lck present: 'locked' after the wait, nothing changed, never removed", async () => {
    const { ctx } = guest(VM.lock, 1500);
    await pacmanDriver.refresh(ctx);
    const hold = await lab.holdPackageLock(VM.lock, 60);
    try {
      const started = Date.now();
      await assert.rejects(pacmanDriver.upgrade(ctx, { exclude: [] }), {
        code: 'locked',
        // the lab's holder is a perl process, so pgrep finds no pacman: reported as a possibly stale lock
        message:
          'unable to upgrade packages - pacman lock /var/lib/pacman/db.lck is held by another process - ' +
          'no pacman process is running - a stale lock from an interrupted pacman? pvepatch never removes it after waiting 2s',
      });
      assert.ok(Date.now() - started >= 1400);
      assert.equal((await pacmanDriver.precheck(ctx)).ok, false);
      assert.deepEqual(await versions(VM.lock), v1);
      assert.equal(await lab.fileExists(VM.lock, '/var/lib/pacman/db.lck'), true);
    } finally {
      await hold.release();
    }
  });
});
