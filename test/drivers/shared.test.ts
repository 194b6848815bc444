import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecResult } from '../../daemon/core/exec.js';
import { archKernels } from '../../daemon/drivers/pacman/kernel.js';
import { conffilesCommand, newConffiles, readConffiles } from '../../daemon/drivers/shared/conffiles.js';
import { globMatches } from '../../daemon/drivers/shared/glob.js';
import { GuestExec } from '../../daemon/drivers/shared/guest-exec.js';
import { readRebootWithKernel, withChangedKernels } from '../../daemon/drivers/shared/kernel.js';
import { LineSplitter } from '../../daemon/drivers/shared/lines.js';
import {
  describeHolder,
  type LockHolder,
  lockedError,
  lockSeconds,
  retryWhileLocked,
  waitUntilFree,
} from '../../daemon/drivers/shared/lock-wait.js';
import { isDigits, lineAfter, parseConffiles, parseNameList, parsePgrep } from '../../daemon/drivers/shared/parse.js';
import { readRebootFlag } from '../../daemon/drivers/shared/reboot-flag.js';
import { dryRunResult, refuseSecurityOnly } from '../../daemon/drivers/shared/results.js';
import { changedKernels, diffVersions } from '../../daemon/drivers/shared/versions.js';
import type { TransportExecOptions } from '../../daemon/transports/types.js';
import { driverContext } from './context.js';
import { FakeTransport, type Reply } from './fake-transport.js';
import { fixture } from './fixtures.js';

const ZYPP: LockHolder = { kind: 'zypp lock', lock: '/run/zypp.pid', pid: 4242, process: 'sleep' };
const LOCKED_EXIT = 7;

/** A guest that answers the scripted replies in order, then `rest` for every further call. */
function scripted(replies: Reply[], rest: Reply = {}): FakeTransport {
  let n = 0;
  return new FakeTransport(() => replies[n++] ?? rest);
}

const lockOf = (res: ExecResult) => (res.exitCode === LOCKED_EXIT ? ZYPP : null);

describe('lock-wait: seconds, holders, the error', () => {
  it('lockSeconds rounds up to whole seconds, so a short wait is never zero', () => {
    assert.equal(lockSeconds(0), 0);
    assert.equal(lockSeconds(1), 1);
    assert.equal(lockSeconds(1000), 1);
    assert.equal(lockSeconds(1500), 2);
    assert.equal(lockSeconds(10_000), 10);
    assert.equal(lockSeconds(10_001), 11);
    assert.equal(lockSeconds(60_000), 60);
    assert.equal(lockSeconds(-5), 0);
  });

  it('describeHolder: pid and name, unknown pid, a note', () => {
    assert.equal(
      describeHolder({ kind: 'dpkg lock', lock: '/var/lib/dpkg/lock-frontend', pid: 2, process: 'perl' }),
      'dpkg lock /var/lib/dpkg/lock-frontend is held by process 2 (perl)',
    );
    assert.equal(
      describeHolder({ kind: 'apt lock', lock: '/var/lib/apt/lists/lock', pid: 30848, process: null }),
      'apt lock /var/lib/apt/lists/lock is held by process 30848',
    );
    assert.equal(
      describeHolder({ kind: 'zypp lock', lock: '/run/zypp.pid', pid: null, process: null }),
      'zypp lock /run/zypp.pid is held by another process',
    );
    assert.equal(
      describeHolder({
        kind: 'pacman lock',
        lock: '/var/lib/pacman/db.lck',
        pid: null,
        process: null,
        note: 'no pacman process is running',
      }),
      'pacman lock /var/lib/pacman/db.lck is held by another process - no pacman process is running',
    );
  });

  it("lockedError is 'locked', names the holder and the wait, carries the holder", () => {
    const err = lockedError('upgrade packages', ZYPP, 60_000);
    assert.equal(err.code, 'locked');
    assert.equal(
      err.message,
      'unable to upgrade packages - zypp lock /run/zypp.pid is held by process 4242 (sleep) after waiting 60s',
    );
    assert.deepEqual(err.details, { lock: '/run/zypp.pid', pid: 4242, process: 'sleep' });
  });
});

describe('lock-wait: retryWhileLocked and waitUntilFree', () => {
  it('a lock failure, then success: waits, runs again with the seconds left, returns the success', async () => {
    const t = scripted([{ exitCode: LOCKED_EXIT }, { exitCode: 0, stdout: 'done' }]);
    const lines: string[] = [];
    const ctx = driverContext(t, { lockTimeoutMs: 3000, log: (l) => lines.push(l) });
    const res = await retryWhileLocked(ctx, {
      verb: 'refresh repositories',
      attempt: (wait) => ctx.exec.run(['tool', `--wait=${wait}`]),
      lockOf,
    });
    assert.equal(res.exitCode, 0);
    assert.equal(res.stdout, 'done');
    assert.deepEqual(t.lines(), ['tool --wait=3', 'tool --wait=2']);
    assert.deepEqual(
      lines.filter((l) => l.startsWith('waiting: ')),
      ['waiting: zypp lock /run/zypp.pid is held by process 4242 (sleep)'],
    );
  });

  it("a failure that is not a lock is returned at once (its exit code is the caller's)", async () => {
    const t = scripted([{ exitCode: 4, stderr: 'broken' }]);
    const ctx = driverContext(t, { lockTimeoutMs: 3000 });
    const res = await retryWhileLocked(ctx, { verb: 'x', attempt: () => ctx.exec.run(['tool']), lockOf });
    assert.equal(res.exitCode, 4);
    assert.equal(t.calls.length, 1);
  });

  it("a lock that stays is 'locked' after the timeout, with the exact message", async () => {
    const t = scripted([], { exitCode: LOCKED_EXIT });
    const ctx = driverContext(t, { lockTimeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(
      retryWhileLocked(ctx, { verb: 'list updates', attempt: () => ctx.exec.run(['tool']), lockOf }),
      {
        code: 'locked',
        message: 'unable to list updates - zypp lock /run/zypp.pid is held by process 4242 (sleep) after waiting 1s',
      },
    );
    assert.ok(Date.now() - started >= 300, 'waited for the lock');
    assert.ok(t.calls.length >= 1 && t.calls.length <= 3, `${t.calls.length} attempts`);
  });

  it('with a probe: polls the probe until the lock is free, then runs the command again', async () => {
    const t: FakeTransport = new FakeTransport((argv): Reply => {
      if (argv[0] === 'probe') return { exitCode: t.lines().filter((l) => l === 'probe').length <= 1 ? 0 : 1 };
      return { exitCode: t.lines().filter((l) => l === 'tool').length === 1 ? LOCKED_EXIT : 0 };
    });
    const ctx = driverContext(t, { lockTimeoutMs: 5000 });
    const probe = async () => ((await ctx.exec.run(['probe'])).exitCode === 0 ? ZYPP : null);
    const res = await retryWhileLocked(ctx, { verb: 'x', attempt: () => ctx.exec.run(['tool']), lockOf, probe });
    assert.equal(res.exitCode, 0);
    assert.deepEqual(t.lines(), ['tool', 'probe', 'probe', 'tool']);
  });

  it("a probe that sees no holder while the command keeps failing on the lock still ends 'locked' after the timeout", async () => {
    // e.g. dnf's log lock (not among the pid files probed) or a bare rpm transaction on EL7 (yum's probe reads only yum.pid)
    const holder: LockHolder = { kind: 'dnf lock', lock: '/var/log/log_lock.pid', pid: 77, process: 'dnf' };
    let attempts = 0;
    const started = Date.now();
    // bounded so that a loop which never looks at its deadline ends (and fails this test) instead of hanging
    const t = new FakeTransport(() =>
      ++attempts > 1000 || Date.now() - started > 5000 ? { exitCode: 0 } : { exitCode: 200 },
    );
    const ctx = driverContext(t, { lockTimeoutMs: 300 });
    await assert.rejects(
      retryWhileLocked(ctx, {
        verb: 'refresh package metadata',
        attempt: () => ctx.exec.run(['dnf', 'makecache']),
        lockOf: (res) => (res.exitCode === 200 ? holder : null),
        probe: async () => null,
      }),
      {
        code: 'locked',
        message:
          'unable to refresh package metadata - dnf lock /var/log/log_lock.pid is held by process 77 (dnf) after waiting 1s',
      },
    );
  });

  it('waitUntilFree: null once the probe sees no holder, the holder when it stays past the timeout', async () => {
    let probes = 0;
    const ctx = driverContext(scripted([]), { lockTimeoutMs: 3000 });
    assert.equal(await waitUntilFree(ctx, async () => (probes++ < 1 ? ZYPP : null)), null);
    assert.equal(probes, 2);
    const short = driverContext(scripted([]), { lockTimeoutMs: 200 });
    const started = Date.now();
    assert.deepEqual(await waitUntilFree(short, async () => ZYPP), ZYPP);
    assert.ok(Date.now() - started >= 200);
  });
});

describe('globMatches', () => {
  it('matches * and ? like a shell glob, whole names only', () => {
    assert.equal(globMatches('kernel*', 'kernel-default'), true);
    assert.equal(globMatches('kernel*', 'kernel'), true);
    assert.equal(globMatches('kernel*', 'xkernel'), false);
    assert.equal(globMatches('demo-s*', 'demo-sec'), true);
    assert.equal(globMatches('demo-?ec', 'demo-sec'), true);
    assert.equal(globMatches('demo-?ec', 'demo-ec'), false);
    assert.equal(globMatches('a*b', 'ab'), true);
    assert.equal(globMatches('a*b', 'axxb'), true);
    assert.equal(globMatches('a*b', 'axxbc'), false);
    assert.equal(globMatches('*', ''), true);
    assert.equal(globMatches('', ''), true);
    assert.equal(globMatches('', 'a'), false);
    assert.equal(globMatches('demo-lib', 'demo-lib'), true);
    assert.equal(globMatches('demo-lib', 'demo-lib2'), false);
    assert.equal(globMatches('[ab]', 'a'), false, 'classes are compared literally');
  });

  it('a glob bomb against a 40-character name returns quickly', () => {
    const started = performance.now();
    assert.equal(globMatches('*a*a*a*a*a*a*a*x', 'a'.repeat(40)), false);
    assert.equal(globMatches('*a*a*a*a*a*a*a*x', `${'a'.repeat(40)}x`), true);
    assert.ok(performance.now() - started < 50, `took ${performance.now() - started} ms`);
  });
});

describe('LineSplitter', () => {
  it('splits across chunks and flushes a last line without a newline', () => {
    const lines: string[] = [];
    const s = new LineSplitter(100, (l) => lines.push(l));
    s.push('abc');
    s.push('def\nsecond\nth');
    s.push('ird');
    s.flush();
    s.flush();
    assert.deepEqual(lines, ['abcdef', 'second', 'third']);
  });

  it('cuts an overlong line and says how much was left out', () => {
    const lines: string[] = [];
    const s = new LineSplitter(10, (l) => lines.push(l));
    s.push(`short\n${'x'.repeat(25)}\nnext`);
    s.flush();
    assert.deepEqual(lines, ['short', 'xxxxxxxxxx [... 15 more characters on this line left out]', 'next']);
    const spread: string[] = [];
    const t = new LineSplitter(4, (l) => spread.push(l));
    t.push('abcdef');
    t.push('gh\n');
    t.push('ijklm');
    t.flush();
    assert.deepEqual(spread, [
      'abcd [... 4 more characters on this line left out]',
      'ijkl [... 1 more characters on this line left out]',
    ]);
  });
});

describe('shared parsers', () => {
  it('parseNameList: unique valid names, one a line (reboot-required.pkgs, zypper ps -sss)', () => {
    assert.deepEqual(parseNameList('demo-app\ndemo-app\nlinux-base\n'), ['demo-app', 'linux-base']);
    assert.deepEqual(parseNameList('demo-app\ndemo-app\n\n../x\n'), ['demo-app']);
    assert.deepEqual(parseNameList('demo-app\ndemo-app\n$(x)\n'), ['demo-app']);
    assert.deepEqual(parseNameList(fixture('zypper/ps-sss.txt')), ['demo-daemon']);
    assert.deepEqual(parseNameList('  demo-app  \n'), ['demo-app']);
    assert.deepEqual(parseNameList(''), []);
  });

  it('parseConffiles: path → ctime; only absolute paths with a tab', () => {
    assert.deepEqual(
      [
        ...parseConffiles(
          '/etc/a.conf.rpmnew\t100.5\n/etc/b c.conf.rpmsave\t200.0\nrelative.rpmnew\t1\n/etc/no-tab\n\n',
        ),
      ],
      [
        ['/etc/a.conf.rpmnew', '100.5'],
        ['/etc/b c.conf.rpmsave', '200.0'],
      ],
    );
    assert.deepEqual([...parseConffiles('find: /etc/private: Permission denied\t0\n')], []);
  });

  it('parsePgrep: pid and command line', () => {
    assert.deepEqual(parsePgrep('412 pacman -Syu\n'), [{ pid: 412, command: 'pacman -Syu' }]);
    assert.deepEqual(parsePgrep('77 apk add nginx\n  78 apk\n'), [
      { pid: 77, command: 'apk add nginx' },
      { pid: 78, command: 'apk' },
    ]);
    assert.deepEqual(parsePgrep(''), []);
    assert.deepEqual(parsePgrep('pgrep: bad\n0 init\n-1 x\n12\n'), []);
  });

  it('lineAfter and isDigits', () => {
    assert.equal(lineAfter('Problem: one\nProblem: two\n', 'Problem: '), 'one');
    assert.equal(
      lineAfter('x\n  The application with PID 9 is: dnf\nmore', '  The application with PID 9 is: '),
      'dnf',
    );
    assert.equal(lineAfter('no such prefix', 'Problem: '), null);
    assert.equal(lineAfter('xProblem: not at a line start', 'Problem: '), null);
    assert.equal(isDigits('12808'), true);
    assert.equal(isDigits(''), false);
    assert.equal(isDigits('12a'), false);
    assert.equal(isDigits('12345678901', 10), false);
  });
});

describe('conffiles', () => {
  it('conffilesCommand: one find over /etc for the given suffixes, ctime printed', () => {
    assert.deepEqual(conffilesCommand(['.rpmnew', '.rpmsave']), [
      'find',
      '/etc',
      '-xdev',
      '(',
      '-name',
      '*.rpmnew',
      '-o',
      '-name',
      '*.rpmsave',
      ')',
      '-printf',
      '%p\\t%C@\\n',
    ]);
    assert.deepEqual(conffilesCommand(['.dpkg-dist', '.ucf-dist']), [
      'find',
      '/etc',
      '-xdev',
      '(',
      '-name',
      '*.dpkg-dist',
      '-o',
      '-name',
      '*.ucf-dist',
      ')',
      '-printf',
      '%p\\t%C@\\n',
    ]);
    assert.deepEqual(conffilesCommand(['.pacnew']), [
      'find',
      '/etc',
      '-xdev',
      '(',
      '-name',
      '*.pacnew',
      ')',
      '-printf',
      '%p\\t%C@\\n',
    ]);
  });

  it('newConffiles keeps new and rewritten files, sorted', () => {
    // apt
    const aptBefore = parseConffiles('/etc/a.conf.dpkg-dist\t100.5\n/etc/b.conf.dpkg-dist\t100.5\n');
    const aptAfter = parseConffiles(
      '/etc/a.conf.dpkg-dist\t100.5\n/etc/b.conf.dpkg-dist\t200.1\n/etc/c.conf.dpkg-dist\t200.2\n',
    );
    assert.deepEqual(newConffiles(aptBefore, aptAfter), ['/etc/b.conf.dpkg-dist', '/etc/c.conf.dpkg-dist']);
    // dnf / yum
    const rpmBefore = parseConffiles('/etc/a.conf.rpmnew\t100.5\n');
    const rpmAfter = parseConffiles(
      '/etc/a.conf.rpmnew\t100.5\n/etc/b.conf.rpmnew\t200.1\n/etc/c.conf.rpmsave\t200.2\n',
    );
    assert.deepEqual(newConffiles(rpmBefore, rpmAfter), ['/etc/b.conf.rpmnew', '/etc/c.conf.rpmsave']);
    // zypper: a rewritten .rpmsave counts, an old .rpmnew does not
    const zypperBefore = parseConffiles('/etc/a.conf.rpmnew\t100.5\n/etc/b.conf.rpmsave\t200.0\n');
    const zypperAfter = parseConffiles(
      '/etc/a.conf.rpmnew\t100.5\n/etc/b.conf.rpmsave\t300.0\n/etc/demo-conf.conf.rpmnew\t400.0\n',
    );
    assert.deepEqual(newConffiles(zypperBefore, zypperAfter), ['/etc/b.conf.rpmsave', '/etc/demo-conf.conf.rpmnew']);
    // pacman
    const pacBefore = parseConffiles('/etc/a.conf.pacnew\t100.5\n');
    const pacAfter = parseConffiles('/etc/a.conf.pacnew\t100.5\n/etc/b.conf.pacnew\t200.1\n');
    assert.deepEqual(newConffiles(pacBefore, pacAfter), ['/etc/b.conf.pacnew']);
    // sorted, whatever order find printed them in
    assert.deepEqual(newConffiles(new Map(), parseConffiles('/etc/z.rpmnew\t1\n/etc/a.rpmnew\t2\n')), [
      '/etc/a.rpmnew',
      '/etc/z.rpmnew',
    ]);
  });

  it('readConffiles runs the one find and tolerates its exit 1 (an unreadable directory)', async () => {
    const t = scripted([
      { exitCode: 1, stdout: '/etc/a.conf.rpmnew\t5.0\n', stderr: "find: '/etc/x': Permission denied\n" },
    ]);
    const files = await readConffiles(driverContext(t), ['.rpmnew', '.rpmsave']);
    assert.deepEqual([...files], [['/etc/a.conf.rpmnew', '5.0']]);
    assert.deepEqual(t.calls, [conffilesCommand(['.rpmnew', '.rpmsave'])]);
  });
});

describe('versions', () => {
  it('diffVersions reports upgrades, new and removed packages, by name', () => {
    const before = new Map([
      ['a', '1.0'],
      ['b', '1.0'],
      ['gone', '2.0'],
    ]);
    const after = new Map([
      ['a', '1.1'],
      ['b', '1.0'],
      ['new', '0.1'],
    ]);
    assert.deepEqual(diffVersions(before, after), [
      { package: 'a', before: '1.0', after: '1.1' },
      { package: 'gone', before: '2.0', after: null },
      { package: 'new', before: null, after: '0.1' },
    ]);
    assert.deepEqual(diffVersions(new Map([['a', '1-r0']]), new Map([['a', '1-r1']])), [
      { package: 'a', before: '1-r0', after: '1-r1' },
    ]);
    assert.deepEqual(diffVersions(new Map(), new Map()), []);
  });

  it('changedKernels: installed kernels among the changes, not removed ones', () => {
    const changed = [
      { package: 'linux', before: '6.1.0.arch1-1', after: '6.2.0.arch1-1' },
      { package: 'linux-lts', before: '6.1.20-1', after: null },
      { package: 'demo-app', before: '1.0-1', after: '1.1-1' },
    ];
    assert.deepEqual(changedKernels(changed, archKernels.isKernelPackage), ['linux']);
  });
});

describe('reboot flag and kernel', () => {
  it('readRebootFlag: test -e <flag>, then cat <flag>.pkgs; an absent list is no packages', async () => {
    const flagged = scripted([{ exitCode: 0 }, { stdout: 'demo-app\ndemo-app\nlinux-base\n' }]);
    assert.deepEqual(await readRebootFlag(driverContext(flagged)), {
      required: true,
      packages: ['demo-app', 'linux-base'],
    });
    assert.deepEqual(flagged.calls, [
      ['test', '-e', '/run/reboot-required'],
      ['cat', '/run/reboot-required.pkgs'],
    ]);
    const apt = scripted([
      { exitCode: 1 },
      { exitCode: 1, stderr: 'cat: /var/run/reboot-required.pkgs: No such file' },
    ]);
    assert.deepEqual(await readRebootFlag(driverContext(apt), '/var/run/reboot-required'), {
      required: false,
      packages: [],
    });
    assert.deepEqual(apt.calls, [
      ['test', '-e', '/var/run/reboot-required'],
      ['cat', '/var/run/reboot-required.pkgs'],
    ]);
  });

  it('readRebootWithKernel adds uname -r against the installed kernel; withChangedKernels adds changed ones', async () => {
    const t = scripted([{ exitCode: 1 }, { exitCode: 1 }, { stdout: '6.1.0-arch1-1\n' }]);
    const reboot = await readRebootWithKernel(driverContext(t), archKernels, new Map([['linux', '6.2.0.arch1-1']]));
    assert.deepEqual(reboot, { required: true, packages: ['linux'] });
    assert.deepEqual(t.calls, [
      ['test', '-e', '/run/reboot-required'],
      ['cat', '/run/reboot-required.pkgs'],
      ['uname', '-r'],
    ]);
    const lines: string[] = [];
    const container = scripted([{ exitCode: 1 }, { exitCode: 1 }, { stdout: '6.8.12-4-pve\n' }]);
    const ctx = driverContext(container, { log: (l) => lines.push(l) });
    assert.deepEqual(await readRebootWithKernel(ctx, archKernels, new Map([['linux', '6.2.0.arch1-1']])), {
      required: false,
      packages: [],
    });
    assert.ok(lines.includes('kernel check skipped - running kernel 6.8.12-4-pve is not an Arch kernel'));
    assert.deepEqual(
      withChangedKernels(
        { required: false, packages: ['demo-app'] },
        [
          { package: 'linux', before: '1', after: '2' },
          { package: 'demo-app', before: '1', after: '2' },
        ],
        archKernels,
      ),
      { required: true, packages: ['demo-app', 'linux'] },
    );
  });
});

describe('results', () => {
  it('a dry run reports its changes and reboot, never config files or services', () => {
    const changed = [{ package: 'demo-app', before: '1.0-1', after: '1.1-1' }];
    assert.deepEqual(dryRunResult(changed, { required: true, packages: ['linux'] }, ['demo-tool'], 'plan'), {
      changed,
      rebootRequired: true,
      rebootPackages: ['linux'],
      conffilesPending: [],
      servicesToRestart: [],
      adminHolds: ['demo-tool'],
      output: 'plan',
    });
  });

  it("security-only without security metadata is refused as 'driver-unsupported'", () => {
    const err = refuseSecurityOnly('Alpine package indexes carry no security metadata');
    assert.equal(err.code, 'driver-unsupported');
    assert.equal(
      err.message,
      'unable to upgrade security updates only - Alpine package indexes carry no security metadata; run without security-only',
    );
  });
});

describe('GuestExec', () => {
  it('bounds every command (output cap, kill for reads, drain for changes) and logs its argv', async () => {
    const seen: TransportExecOptions[] = [];
    const lines: string[] = [];
    const exec = new GuestExec(
      {
        name: 'fake',
        async exec(_argv, opts = {}) {
          seen.push(opts);
          return {
            exitCode: 0,
            signal: null,
            stdout: '',
            stderr: '',
            truncated: false,
            durationMs: 1,
            timedOut: false,
          };
        },
      },
      { log: (l) => lines.push(l), maxOutputBytes: 1024 },
    );
    await exec.run(['env', 'LC_ALL=C', 'dnf', 'check']);
    await exec.run(['dnf', '-y', 'upgrade'], { changes: true, timeoutMs: 5000 });
    assert.deepEqual(
      seen.map((o) => [o.maxOutputBytes, o.overflow, o.timeoutMs]),
      [
        [1024, 'kill', 120_000],
        [1024, 'drain', 5000],
      ],
    );
    assert.deepEqual(lines, ['$ env LC_ALL=C dnf check', '$ dnf -y upgrade']);
    assert.equal(exec.execs, 2);
  });

  it("truncated output is 'output-invalid', never a partial answer", async () => {
    const exec = new GuestExec(
      {
        name: 'fake',
        async exec() {
          return {
            exitCode: 0,
            signal: null,
            stdout: 'head…tail',
            stderr: '',
            truncated: true,
            durationMs: 1,
            timedOut: false,
            bytes: { stdout: 2 * 1024 * 1024, stderr: 0 },
          };
        },
      },
      { maxOutputBytes: 1024 * 1024 },
    );
    await assert.rejects(exec.run(['env', 'LC_ALL=C', 'rpm', '-qa']), {
      code: 'output-invalid',
      message:
        "unable to use the output of 'rpm' in the guest - it printed 2 MiB, more than the 1 MiB limit, and exited 0; its output is not trusted",
    });
  });
});
