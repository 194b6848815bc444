import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseInstalled, parseNevra, parseRpmLock } from '../../daemon/drivers/rpm-common/parse.js';
import { parseMainExcludes, parseVersionlock } from '../../daemon/drivers/rpm-common/parse-holds.js';
import {
  diffInstalled,
  isKernelPackage,
  newestByName,
  runningKernelCheck,
} from '../../daemon/drivers/rpm-common/rpm.js';
import { compareEvr, parseEvr, rpmvercmp } from '../../daemon/drivers/rpm-common/rpmvercmp.js';
import { pidFileHolder, rpmLockHolder } from '../../daemon/drivers/rpm-common/steps.js';
import { driverContext } from './context.js';
import { FakeTransport } from './fake-transport.js';
import { fixture } from './fixtures.js';

// Expected values from rpm 4.18's own comparison (python3-rpm `rpm.labelCompare`) on Debian 12.
const RPM_ORDER: Array<[string, string, number]> = [
  ['1.0', '1.0', 0],
  ['1.0', '2.0', -1],
  ['2.0', '1.0', 1],
  ['2.0.1', '2.0.1', 0],
  ['2.0', '2.0.1', -1],
  ['2.0.1', '2.0', 1],
  ['2.0.1a', '2.0.1a', 0],
  ['2.0.1a', '2.0.1', 1],
  ['2.0.1', '2.0.1a', -1],
  ['5.5p1', '5.5p1', 0],
  ['5.5p1', '5.5p2', -1],
  ['5.5p10', '5.5p1', 1],
  ['10xyz', '10.1xyz', -1],
  ['xyz10', 'xyz10.1', -1],
  ['xyz.4', 'xyz.4', 0],
  ['xyz.4', '8', -1],
  ['8', 'xyz.4', 1],
  ['xyz.4', '2', -1],
  ['2', 'xyz.4', 1],
  ['5.5p2', '5.6p1', -1],
  ['5.6p1', '6.5p1', -1],
  ['6.0.rc1', '6.0', 1],
  ['6.0', '6.0.rc1', -1],
  ['10b2', '10a1', 1],
  ['10a2', '10b2', -1],
  ['1.0aa', '1.0aa', 0],
  ['1.0a', '1.0aa', -1],
  ['1.0aa', '1.0a', 1],
  ['10.0001', '10.0001', 0],
  ['10.0001', '10.1', 0],
  ['10.1', '10.0001', 0],
  ['10.0001', '10.0039', -1],
  ['4.999.9', '5.0', -1],
  ['20101121', '20101121', 0],
  ['20101121', '20101122', -1],
  ['2_0', '2_0', 0],
  ['2.0', '2_0', 0],
  ['a', 'b', -1],
  ['a+', 'a_', 0],
  ['+a', '+a', 0],
  ['+_', '_+', 0],
  ['1.0~rc1', '1.0~rc1', 0],
  ['1.0~rc1', '1.0', -1],
  ['1.0', '1.0~rc1', 1],
  ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~rc1~git123', '1.0~rc1', -1],
  ['1.0^', '1.0^', 0],
  ['1.0^', '1.0', 1],
  ['1.0', '1.0^', -1],
  ['1.0^git1', '1.0^git2', -1],
  ['1.0^git1', '1.01', -1],
  ['1.0^20160101', '1.0.1', -1],
  ['1.0^20160101^git1', '1.0^20160101', 1],
  ['1.0~rc1^git1', '1.0~rc1', 1],
  ['1.0^git1~pre', '1.0^git1', -1],
  ['1.1.20261122git0123456789abcdef', '1.1', 1],
  ['6.2.0', '6.10.0', -1],
  ['3.10.0', '3.10.0', 0],
  ['0001', '1', 0],
  ['1.el7', '1.el7_9', -1],
];

describe('rpmvercmp', () => {
  it('orders versions exactly as rpm 4.18 does', () => {
    for (const [a, b, expected] of RPM_ORDER) assert.equal(rpmvercmp(a, b), expected, `${a} vs ${b}`);
  });

  it('compares epoch, then version, then release', () => {
    assert.deepEqual(parseEvr('1:11.2.0-0.el7'), { epoch: 1, version: '11.2.0', release: '0.el7' });
    assert.deepEqual(parseEvr('6.2.0'), { epoch: 0, version: '6.2.0', release: null });
    assert.equal(compareEvr('1:1.0-1', '2.0-1'), 1);
    assert.equal(compareEvr('6.10.0-1', '6.2.0-1'), 1);
    assert.equal(compareEvr('1.0-1.el7', '1.0-1.el7_9'), -1);
    assert.equal(compareEvr('0:1.0-1', '1.0-1'), 0);
  });
});

describe('rpm -qa parsing and the installed-version diff', () => {
  it('reads name, arch and [E:]V-R; drops gpg-pubkey and invalid names', () => {
    const list = parseInstalled(
      `${fixture('dnf/rpm-qa-v1.txt')}gpg-pubkey\t(none)\tfd431d51-4ae0493b\nbad name\tx86_64\t1-1\n`,
    );
    assert.equal(list.length, 6);
    assert.deepEqual(list[2], { name: 'kernel-core', arch: 'noarch', evr: '6.1.0-1' });
  });

  it('diffs the newest version per name (real before/after of the demo upgrade)', () => {
    const changed = diffInstalled(
      parseInstalled(fixture('dnf/rpm-qa-v1.txt')),
      parseInstalled(fixture('dnf/rpm-qa-v2.txt')),
    );
    assert.deepEqual(changed, [
      { package: 'demo-app', before: '1.0-1', after: '1.1-1' },
      { package: 'demo-conf', before: '1.0-1', after: '1.1-1' },
      { package: 'demo-lib', before: '1.0-1', after: '1.1-1' },
      { package: 'demo-sec', before: '1.0-1', after: '1.1-1' },
      { package: 'demo-tool', before: '1.0-1', after: '1.1-1' },
      { package: 'kernel-core', before: '6.1.0-1', after: '6.2.0-1' },
    ]);
  });

  it('an install-only kernel counts by its newest version; an obsoleted package is removed', () => {
    const before = parseInstalled(fixture('dnf/rpm-qa-extra-before.txt'));
    const after = parseInstalled(fixture('dnf/rpm-qa-extra-after.txt'));
    assert.equal(after.filter((p) => p.name === 'kernel').length, 2);
    assert.equal(newestByName(after).get('kernel'), '6.2.0-1');
    const changed = diffInstalled(before, after);
    assert.deepEqual(
      changed.map((c) => [c.package, c.before, c.after]),
      [
        ['demo-lib', '1.0-1', '1.1-1'],
        ['demo-new', null, '1.1-1'],
        ['demo-old', '1.0-1', null],
        ['demo-package-with-a-really-long-name-that-overflows-the-column', '1.0-1', '1.1-1'],
        [
          'demo-package-with-an-extremely-long-name-that-certainly-overflows-the-eighty-column-terminal',
          '1.0-1',
          '1.1.20261122git0123456789abcdef-1',
        ],
        ['kernel', '6.1.0-1', '6.2.0-1'],
      ],
    );
  });
});

describe('NEVRA, kernels and small rpm-level parsers', () => {
  it('splits name-[E:]V-R.arch', () => {
    assert.deepEqual(parseNevra('demo-sec-1.1-1.noarch'), { name: 'demo-sec', evr: '1.1-1', arch: 'noarch' });
    assert.deepEqual(parseNevra('bind-libs-30:9.3.6-25.P1.el5_11.2.x86_64'), {
      name: 'bind-libs',
      evr: '30:9.3.6-25.P1.el5_11.2',
      arch: 'x86_64',
    });
    assert.equal(parseNevra('Loaded plugins:'), null);
    assert.equal(parseNevra('demo-1.0.noarch'), null);
  });

  it('kernel boot packages, not headers or tools', () => {
    for (const n of ['kernel', 'kernel-core', 'kernel-modules', 'kernel-uek', 'kernel-rt-core', 'kernel-64k'])
      assert.equal(isKernelPackage(n), true, n);
    for (const n of ['kernel-headers', 'kernel-devel', 'kernel-tools-libs', 'kernelshark', 'linux-firmware'])
      assert.equal(isKernelPackage(n), false, n);
  });

  it('running kernel: outdated only when it is an installed kernel with a newer sibling', () => {
    const installed = [
      { name: 'kernel-core', arch: 'x86_64', evr: '5.14.0-427.el9' },
      { name: 'kernel-core', arch: 'x86_64', evr: '5.14.0-503.el9' },
      { name: 'kernel-headers', arch: 'x86_64', evr: '5.14.0-600.el9' },
    ];
    assert.deepEqual(runningKernelCheck(installed, '5.14.0-427.el9.x86_64\n'), {
      outdated: true,
      packages: ['kernel-core'],
    });
    assert.deepEqual(runningKernelCheck(installed, '5.14.0-503.el9.x86_64'), { outdated: false, packages: [] });
    // an LXC container runs the host's kernel, which no guest package provides: no verdict
    assert.equal(runningKernelCheck(installed, '6.8.12-4-pve'), null);
  });

  it('rpm transaction lock', () => {
    assert.match(parseRpmLock(fixture('dnf/lock-rpm.stderr.txt')) ?? '', /\/var\/lib\/rpm\/\.rpm\.lock$/);
    assert.match(parseRpmLock(fixture('dnf/verifydb-locked.stderr.txt')) ?? '', /\/var\/lib\/rpm\/\.rpm\.lock$/);
    assert.equal(parseRpmLock('Error: Transaction failed'), null);
    assert.deepEqual(rpmLockHolder('/var/lib/rpm/.rpm.lock'), {
      kind: 'rpm transaction lock',
      lock: '/var/lib/rpm/.rpm.lock',
      pid: null,
      process: null,
    });
  });

  it('pid files: one head -n 1 per file, the first whose process runs; stale and junk files are no lock', async () => {
    const files: Record<string, string> = {
      '/var/lib/dnf/rpmdb_lock.pid': '12808\n',
      '/var/run/yum.pid': '7\n',
      '/var/cache/dnf/metadata_lock.pid': 'not a pid\n',
    };
    const t = new FakeTransport((argv) => {
      if (argv[0] === 'head') {
        const text = files[argv.at(-1) ?? ''];
        return text === undefined ? { exitCode: 1, stderr: 'head: cannot open' } : { stdout: text };
      }
      if (argv.join(' ') === 'cat /proc/7/comm') return { stdout: 'yum\n' };
      return { exitCode: 1, stderr: 'cat: No such file or directory' }; // 12808 is gone
    });
    const ctx = driverContext(t);
    const paths = [
      '/var/cache/dnf/metadata_lock.pid',
      '/absent.pid',
      '/var/lib/dnf/rpmdb_lock.pid',
      '/var/run/yum.pid',
    ];
    assert.deepEqual(await pidFileHolder(ctx, paths, 'yum lock'), {
      kind: 'yum lock',
      lock: '/var/run/yum.pid',
      pid: 7,
      process: 'yum',
    });
    assert.deepEqual(t.lines(), [
      'head -n 1 -- /var/cache/dnf/metadata_lock.pid',
      'head -n 1 -- /absent.pid',
      'head -n 1 -- /var/lib/dnf/rpmdb_lock.pid',
      'cat /proc/12808/comm',
      'head -n 1 -- /var/run/yum.pid',
      'cat /proc/7/comm',
    ]);
    assert.equal(await pidFileHolder(ctx, ['/absent.pid'], 'dnf lock'), null);
  });
});

describe('admin holds', () => {
  it('reads exclude/excludepkgs of [main] only, comma or space separated, with continuations', () => {
    const conf = [
      '[main]',
      'gpgcheck=1',
      'excludepkgs=demo-tool, kernel*',
      '   php-* ',
      'exclude = httpd',
      '# exclude=commented',
      '[updates]',
      'excludepkgs=repo-only',
    ].join('\n');
    assert.deepEqual(parseMainExcludes(conf), ['demo-tool', 'kernel*', 'php-*', 'httpd']);
    assert.deepEqual(parseMainExcludes(''), []);
  });

  it('reads dnf and yum versionlock entries', () => {
    const list = [
      '# Added lock on Sun Nov 22 04:00:00 2026',
      'demo-lib-0:1.0-1.*',
      '!demo-tool-0:1.1-1.*',
      '0:bash-4.2.46-34.el7.*',
      '',
    ].join('\n');
    assert.deepEqual(parseVersionlock(list), ['demo-lib', 'demo-tool', 'bash']);
  });
});
