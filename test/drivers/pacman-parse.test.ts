import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { archKernels, kernelRelease, runningKernelPackage } from '../../daemon/drivers/pacman/kernel.js';
import {
  adminHoldNames,
  failureCause,
  isLockFailure,
  mergeUpdates,
  parseIgnoreConfig,
  parsePacnewWarnings,
  parsePending,
  parsePlan,
  parseVersions,
} from '../../daemon/drivers/pacman/parse.js';
import { checkKernel } from '../../daemon/drivers/shared/kernel.js';
import { parsePgrep } from '../../daemon/drivers/shared/parse.js';
import { diffVersions } from '../../daemon/drivers/shared/versions.js';
import { fixture } from './fixtures.js';

describe('pacman pending updates', () => {
  it('parses -Qu lines and the [ignored] marker', () => {
    assert.deepEqual(parsePending(fixture('pacman/qu.txt'))[5], {
      package: 'linux',
      current: '6.1.0.arch1-1',
      next: '6.2.0.arch1-1',
      ignored: false,
    });
    const ignored = parsePending(fixture('pacman/qu-ignored.txt'));
    assert.equal(ignored.length, 6);
    assert.deepEqual(
      ignored.filter((p) => p.ignored).map((p) => p.package),
      ['demo-tool'],
    );
  });

  it('parses the -Su --print plan in pacman order with repositories', () => {
    const plan = parsePlan(fixture('pacman/sup.txt'));
    assert.deepEqual([...plan.keys()], ['demo-lib', 'demo-app', 'demo-conf', 'demo-sec', 'demo-tool', 'linux']);
    assert.deepEqual(plan.get('linux'), { version: '6.2.0.arch1-1', repository: 'demo' });
    assert.equal(parsePlan(fixture('pacman/sup-ignored.txt')).has('demo-tool'), false);
    assert.equal(parsePlan(fixture('pacman/sup-unsatisfied.txt')).size, 0);
  });

  it('merges: ignored packages left out, repository from the plan, new dependencies with no current version', () => {
    const pending = parsePending(fixture('pacman/qu-ignored.txt'));
    const plan = parsePlan(`${fixture('pacman/sup-ignored.txt')}demo-new 2.0-1 extra\n`);
    const updates = mergeUpdates(pending, plan);
    assert.deepEqual(
      updates.map((u) => [u.package, u.current_version, u.new_version, u.repository, u.security]),
      [
        ['demo-app', '1.0-1', '1.1-1', 'demo', false],
        ['demo-conf', '1.0-1', '1.1-1', 'demo', false],
        ['demo-lib', '1.0-1', '1.1-1', 'demo', false],
        ['demo-sec', '1.0-1', '1.1-1', 'demo', false],
        ['linux', '6.1.0.arch1-1', '6.2.0.arch1-1', 'demo', false],
        ['demo-new', null, '2.0-1', 'extra', false],
      ],
    );
  });

  it('skips lines that do not parse or carry an invalid name', () => {
    assert.deepEqual(parsePending('x y -> \n$(reboot) 1 -> 2\n:: Synchronizing\n'), []);
    assert.equal(parsePlan('file:///srv/repo/x.pkg.tar.zst\n').size, 0);
  });
});

describe('pacman versions, holds, conffiles', () => {
  it('diffs -Q before and after a real upgrade', () => {
    const before = parseVersions(fixture('pacman/q-before.txt'));
    const after = parseVersions(fixture('pacman/q-after.txt'));
    assert.equal(before.size, 6);
    assert.deepEqual(diffVersions(before, after), [
      { package: 'demo-app', before: '1.0-1', after: '1.1-1' },
      { package: 'demo-conf', before: '1.0-1', after: '1.1-1' },
      { package: 'demo-lib', before: '1.0-1', after: '1.1-1' },
      { package: 'demo-sec', before: '1.0-1', after: '1.1-1' },
      { package: 'linux', before: '6.1.0.arch1-1', after: '6.2.0.arch1-1' },
    ]);
  });

  it('reads IgnorePkg (globs kept as written) and IgnoreGroup from pacman-conf', () => {
    const config = parseIgnoreConfig(fixture('pacman/conf-ignore.txt'));
    assert.deepEqual(config, { packages: ['demo-tool', 'linux*', 'demo-sec'], groups: ['demo-group'] });
    assert.deepEqual(adminHoldNames(config), ['demo-tool', 'linux*', 'demo-sec', 'group:demo-group']);
    assert.deepEqual(parseIgnoreConfig(''), { packages: [], groups: [] });
  });

  it('finds the .pacnew pacman warned about', () => {
    assert.deepEqual(parsePacnewWarnings(fixture('pacman/su-ignore.stderr.txt')), [
      '/tmp/pm-scratch/s.nMjO/root/etc/demo-conf.conf.pacnew',
    ]);
  });
});

describe('pacman errors', () => {
  it('recognises both lock refusals, and nothing else', () => {
    assert.equal(isLockFailure(fixture('pacman/lock-su.stderr.txt')), true);
    assert.equal(isLockFailure(fixture('pacman/lock-syy.stderr.txt')), true);
    assert.equal(isLockFailure(fixture('pacman/lock-su-guest.stderr.txt')), true);
    assert.equal(isLockFailure(fixture('pacman/lock-syy-guest.stderr.txt')), true);
    assert.equal(isLockFailure(fixture('pacman/su-conflict.stderr.txt')), false);
  });

  it("takes pacman's error line and its conflict or dependency details", () => {
    const conflict = `${fixture('pacman/su-conflict.txt')}\n${fixture('pacman/su-conflict.stderr.txt')}`;
    assert.equal(
      failureCause(conflict),
      'failed to commit transaction (conflicting files): demo-lib: /tmp/pm-scratch/s.nMjO/root/usr/share/demo-tool/VERSION exists in filesystem (owned by demo-tool)',
    );
    const deps = `${fixture('pacman/sup-unsatisfied.txt')}\n${fixture('pacman/sup-unsatisfied.stderr.txt')}`;
    assert.equal(
      failureCause(deps),
      "failed to prepare transaction (could not satisfy dependencies): unable to satisfy dependency 'demo-lib>=1.1' required by demo-app",
    );
    assert.equal(
      failureCause(fixture('pacman/lock-su.stderr.txt')),
      'failed to init transaction (unable to lock database)',
    );
    assert.equal(failureCause('warning: nothing\n'), null);
  });

  it('parses pgrep -a holders', () => {
    assert.deepEqual(parsePgrep('412 pacman -Syu\n'), [{ pid: 412, command: 'pacman -Syu' }]);
    assert.deepEqual(parsePgrep(''), []);
  });
});

describe('pacman kernel check', () => {
  it('maps each Arch kernel package version to its uname -r', () => {
    assert.equal(kernelRelease('linux', '6.2.0.arch1-1'), '6.2.0-arch1-1');
    assert.equal(kernelRelease('linux', '6.2.arch1-1'), '6.2.0-arch1-1');
    assert.equal(kernelRelease('linux-lts', '6.1.20-1'), '6.1.20-1-lts');
    assert.equal(kernelRelease('linux-zen', '6.2.8.zen1-1'), '6.2.8-zen1-1-zen');
    assert.equal(kernelRelease('linux-hardened', '6.2.8.hardened1-1'), '6.2.8-hardened1-1-hardened');
    assert.equal(kernelRelease('linux-firmware', '20230310.abc-1'), null);
  });

  it('knows which running releases are Arch kernels', () => {
    assert.equal(runningKernelPackage('6.2.0-arch1-1'), 'linux');
    assert.equal(runningKernelPackage('6.1.20-1-lts'), 'linux-lts');
    assert.equal(runningKernelPackage('6.8.12-4-pve'), null);
    assert.equal(runningKernelPackage('6.18.44-fc-v669'), null);
  });

  it('flags an Arch VM whose kernel package moved on, never a container on a Proxmox kernel', () => {
    const installed = parseVersions(fixture('pacman/q-kernels.txt'));
    assert.deepEqual(checkKernel(archKernels, '6.1.0-arch1-1\n', installed), {
      outdated: true,
      package: 'linux',
      skipped: null,
    });
    assert.deepEqual(checkKernel(archKernels, '6.2.0-arch1-1', installed), {
      outdated: false,
      package: null,
      skipped: null,
    });
    assert.equal(checkKernel(archKernels, '6.8.12-4-pve', installed).outdated, false);
    assert.equal(
      checkKernel(archKernels, '6.8.12-4-pve', installed).skipped,
      'running kernel 6.8.12-4-pve is not an Arch kernel',
    );
    assert.match(checkKernel(archKernels, '6.1.20-1-lts', installed).skipped ?? '', /linux-lts is not installed/);
  });

  it('kernel packages are the four Arch flavours', () => {
    for (const k of ['linux', 'linux-lts', 'linux-zen', 'linux-hardened']) assert.ok(archKernels.isKernelPackage(k), k);
    for (const k of ['linux-firmware', 'linux-headers', 'linux-api-headers', 'constructor', 'toString'])
      assert.ok(!archKernels.isKernelPackage(k), k);
  });
});
