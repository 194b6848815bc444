import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  alpineKernels,
  isKernelPackage,
  kernelRelease,
  runningKernelPackage,
} from '../../daemon/drivers/apk/kernel.js';
import {
  failureCause,
  isLockFailure,
  parseChanges,
  parseConffiles,
  parseInstalled,
  parsePolicy,
  parseRefreshSummary,
  repositoryOf,
  splitNameVersion,
} from '../../daemon/drivers/apk/parse.js';
import { adminHolds, parseWorld, pinWorld, worldEntry } from '../../daemon/drivers/apk/world.js';
import { newConffiles } from '../../daemon/drivers/shared/conffiles.js';
import { checkKernel } from '../../daemon/drivers/shared/kernel.js';
import { parsePgrep } from '../../daemon/drivers/shared/parse.js';
import { fixture } from './fixtures.js';

describe('apk upgrade lines', () => {
  it('parses a real apk upgrade (Alpine 3.18) and skips the Executing lines', () => {
    const changes = parseChanges(fixture('apk/upgrade-alpine318.txt'));
    assert.equal(changes.length, 7);
    assert.deepEqual(changes[1], { package: 'busybox', current: '1.36.1-r0', next: '1.36.1-r2', action: 'Upgrading' });
    assert.equal(changes[5]?.package, 'ssl_client');
  });

  it('keeps dashed names whole (simulation from Alpine 3.21)', () => {
    assert.deepEqual(
      parseChanges(fixture('apk/simulate-alpine321.txt')).map((c) => c.package),
      ['git', 'git-init-template', 'perl-git', 'git-perl'],
    );
  });

  it('new dependencies, tags, purges; reinstalls and pinning-only changes are not updates', () => {
    assert.deepEqual(parseChanges(fixture('apk/simulate-composed.txt')), [
      { package: 'demo-new', current: null, next: '2.0-r0', action: 'Installing' },
      { package: 'demo-lib', current: '1.0-r0', next: '1.1-r0', action: 'Upgrading' },
      { package: 'demo-app', current: '1.0-r0', next: '1.1-r0', action: 'Upgrading' },
      { package: 'demo-old', current: '0.9-r0', next: null, action: 'Purging' },
    ]);
  });

  it("reads apk 3's padded counter", () => {
    assert.deepEqual(
      parseChanges(fixture('apk/simulate-v3.txt')).map((c) => [c.package, c.next]),
      [
        ['linux-lts', '6.6.60-r0'],
        ['demo-lib', '1.1-r0'],
      ],
    );
  });
});

describe('apk policy, installed versions, refresh summary', () => {
  it('finds the repository of a version and ignores the installed database', () => {
    const policy = parsePolicy(fixture('apk/policy-alpine321.txt'));
    assert.equal(repositoryOf(policy, 'jq', '1.7.1-r0'), 'https://dl-cdn.alpinelinux.org/alpine/v3.21/main');
    assert.equal(repositoryOf(policy, 'jq', '1.6.0-r0'), '');
    assert.equal(repositoryOf(policy, 'curl', '1.0-r0'), '');
  });

  it('splits name-version as apk does', () => {
    assert.deepEqual(
      [...parseInstalled(fixture('apk/info-v.txt'))],
      [
        ['musl', '1.1.16-r14'],
        ['busybox', '1.26.2-r7'],
        ['font-adobe-100dpi', '1.0.4-r2'],
      ],
    );
    assert.equal(splitNameVersion('no-version-here'), null);
    assert.deepEqual(splitNameVersion('py3-foo-2.0_rc1-r3'), { name: 'py3-foo', version: '2.0_rc1-r3' });
  });

  it('reads both update summaries', () => {
    assert.deepEqual(parseRefreshSummary(fixture('apk/update-alpine318.txt')), { unavailable: 0, stale: 0 });
    assert.deepEqual(parseRefreshSummary(fixture('apk/update-unreachable-alpine321.txt')), {
      unavailable: 2,
      stale: 0,
    });
    assert.equal(parseRefreshSummary('something else'), null);
  });

  it('finds new .apk-new files by ctime (busybox stat output)', () => {
    const before = parseConffiles('1700000000 /etc/a.conf.apk-new\n');
    const after = parseConffiles('1700000000 /etc/a.conf.apk-new\n1700000500 /etc/b.conf.apk-new\n');
    assert.deepEqual(newConffiles(before, after), ['/etc/b.conf.apk-new']);
  });
});

describe('apk errors', () => {
  it('recognises the lock refusal of apk 2.14 (with and without --wait) and apk 3', () => {
    assert.equal(isLockFailure(fixture('apk/lock-2.14.stderr.txt')), true);
    assert.equal(isLockFailure(fixture('apk/lock-wait-2.14.txt')), true);
    assert.equal(isLockFailure(fixture('apk/lock-3.0.stderr.txt')), true);
    assert.equal(isLockFailure(fixture('apk/select-error.stderr.txt')), false);
  });

  it("takes apk's ERROR lines with the solver's indented details", () => {
    assert.equal(
      failureCause(fixture('apk/select-error.stderr.txt')),
      'unable to select packages: demo-lib-1.1-r0: breaks: world[demo-lib=1.0-r0] satisfies: demo-app-1.1-r0[demo-lib>=1.1]',
    );
    assert.equal(
      failureCause(fixture('apk/upgrade-script-error.txt')),
      'demo-app-1.1-r0.post-upgrade: script exited with error 1',
    );
    assert.equal(
      failureCause(fixture('apk/update-unreachable-alpine321.txt')),
      'updating and opening https://dl-cdn.alpinelinux.invalid/alpine/v3.21/main: DNS lookup error',
    );
    assert.equal(failureCause('OK: 1 MiB in 2 packages\n'), null);
  });

  it('parses pgrep -a holders', () => {
    assert.deepEqual(parsePgrep('77 apk add nginx\n'), [{ pid: 77, command: 'apk add nginx' }]);
  });
});

describe('apk world', () => {
  const world = parseWorld(fixture('apk/world.txt'));

  it('parses entries, names, tags and the admin holds', () => {
    assert.equal(world.length, 7);
    assert.deepEqual(worldEntry('busybox@edge'), { name: 'busybox', tag: '@edge', conflict: false });
    assert.deepEqual(worldEntry('!demo-old'), { name: 'demo-old', tag: '', conflict: true });
    assert.deepEqual(worldEntry('demo-conf<2'), { name: 'demo-conf', tag: '', conflict: false });
    assert.deepEqual(adminHolds(world), ['demo-conf<2', 'demo-tool=1.0-r0', 'openssh~9.9']);
  });

  it('pins replace the entry (tag kept), add dependency-only names, leave the rest alone', () => {
    const pins = new Map([
      ['busybox', '1.36.1-r2'],
      ['demo-conf', '1.0-r0'],
      ['demo-lib', '1.0-r0'],
    ]);
    assert.equal(
      pinWorld(world, pins),
      'alpine-base\nbusybox@edge=1.36.1-r2\ndemo-app\ndemo-conf=1.0-r0\ndemo-tool=1.0-r0\n!demo-old\nopenssh~9.9\ndemo-lib=1.0-r0\n',
    );
  });

  it('reads a one-line world (older apk) too', () => {
    assert.deepEqual(parseWorld('alpine-base busybox\n'), ['alpine-base', 'busybox']);
  });
});

describe('apk kernel check', () => {
  it('knows kernels from other linux-* packages', () => {
    assert.equal(isKernelPackage('linux-lts'), true);
    assert.equal(isKernelPackage('linux-virt'), true);
    assert.equal(isKernelPackage('linux-pam'), false);
    assert.equal(isKernelPackage('linux-firmware-intel'), false);
  });

  it('maps versions to releases and releases to packages', () => {
    assert.equal(kernelRelease('linux-lts', '6.6.58-r0'), '6.6.58-0-lts');
    assert.equal(kernelRelease('linux-virt', '6.12-r1'), '6.12.0-1-virt');
    assert.equal(runningKernelPackage('6.6.58-0-virt'), 'linux-virt');
    assert.equal(runningKernelPackage('6.8.12-4-pve'), null);
  });

  it('flags a VM on a replaced kernel, never a container on the Proxmox kernel', () => {
    const installed = new Map([['linux-lts', '6.6.60-r0']]);
    assert.deepEqual(checkKernel(alpineKernels, '6.6.58-0-lts\n', installed), {
      outdated: true,
      package: 'linux-lts',
      skipped: null,
    });
    assert.equal(checkKernel(alpineKernels, '6.6.60-0-lts', installed).outdated, false);
    assert.equal(checkKernel(alpineKernels, '6.8.12-4-pve', installed).outdated, false);
  });
});
