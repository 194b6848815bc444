import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeHolder, lockedError } from '../../daemon/drivers/shared/lock-wait.js';
import { parseNameList } from '../../daemon/drivers/shared/parse.js';
import { diffVersions } from '../../daemon/drivers/shared/versions.js';
import { exitNote, isZypperSuccess, zypperFailure } from '../../daemon/drivers/zypper/exit-codes.js';
import {
  isKernelPackage,
  parseLockHolder,
  parseRemovedLocks,
  parseRpmVersions,
  ZYPP_LOCK,
  zypperErrorText,
} from '../../daemon/drivers/zypper/parse-text.js';
import { fixture } from './fixtures.js';

const result = (exitCode: number, stdout: string, stderr = '') => ({
  exitCode,
  signal: null,
  stdout,
  stderr,
  truncated: false,
  durationMs: 1,
  timedOut: false,
});

describe('zypper rpm versions', () => {
  it('reads name, [epoch:]version-release; diff shows what changed', () => {
    const after = parseRpmVersions(fixture('zypper/rpm-qa.txt'));
    assert.deepEqual(Object.fromEntries(after), {
      'demo-lib': '1.0-1',
      'demo-tool': '1.0-1',
      'demo-app': '1.1-1',
      'demo-conf': '1.1-1',
      'demo-sec': '1.1-1',
      'kernel-default': '6.2.0-1',
    });
    const before = new Map([...after].map(([n]) => [n, n === 'kernel-default' ? '6.1.0-1' : '1.0-1']));
    before.set('gone', '1:2.0-3');
    assert.deepEqual(diffVersions(before, after), [
      { package: 'demo-app', before: '1.0-1', after: '1.1-1' },
      { package: 'demo-conf', before: '1.0-1', after: '1.1-1' },
      { package: 'demo-sec', before: '1.0-1', after: '1.1-1' },
      { package: 'gone', before: '1:2.0-3', after: null },
      { package: 'kernel-default', before: '6.1.0-1', after: '6.2.0-1' },
    ]);
  });

  it('multiversion kernels: the most recently installed wins, the later line on a tie', () => {
    assert.equal(parseRpmVersions(fixture('zypper/rpm-qa-multiversion.txt')).get('kernel-default'), '6.2.0-1');
    const text = 'k\t2-1\t200\nk\t3-1\t100\ngpg-pubkey\ta-b\t5\nbad name\t1\t1\n';
    assert.deepEqual(Object.fromEntries(parseRpmVersions(text)), { k: '2-1', 'gpg-pubkey': 'a-b' });
  });

  it('kernel flavours count, kernel tooling does not', () => {
    for (const k of ['kernel-default', 'kernel-preempt', 'kernel-rt', 'kernel-64kb', 'kernel-default-base'])
      assert.ok(isKernelPackage(k), k);
    for (const k of ['kernel-firmware-intel', 'kernel-default-devel', 'kernel-source', 'kernel-macros', 'kernelx'])
      assert.ok(!isKernelPackage(k), k);
  });
});

describe('zypper lock holder and failures', () => {
  it('finds the holder in XML (stdout) and text (stderr) output', () => {
    const xml = fixture('zypper/locked.xml');
    const pid = Number(/pid (\d+)/.exec(xml)?.[1]);
    const zypp = { kind: 'zypp lock', lock: '/run/zypp.pid' };
    assert.equal(ZYPP_LOCK, '/run/zypp.pid');
    assert.deepEqual(parseLockHolder(xml), { ...zypp, pid, process: 'sleep' });
    assert.deepEqual(parseLockHolder('', fixture('zypper/locked-update.txt.stderr')), {
      ...zypp,
      pid,
      process: 'sleep',
    });
    assert.deepEqual(
      parseLockHolder('System management is locked by the application with pid 18072 (root/usr/bin/demo-daemon).'),
      { ...zypp, pid: 18072, process: 'root/usr/bin/demo-daemon' },
    );
    // exit 7 without the sentence: still the zypp lock, holder unknown
    assert.deepEqual(parseLockHolder('nothing here'), { ...zypp, pid: null, process: null });
    assert.equal(
      describeHolder({ ...zypp, pid: 7, process: 'packagekitd' }),
      'zypp lock /run/zypp.pid is held by process 7 (packagekitd)',
    );
    assert.equal(describeHolder(parseLockHolder('nothing here')), 'zypp lock /run/zypp.pid is held by another process');
  });

  it('exit 7 is locked (through the shared loop), with the holder and the wait', () => {
    const stderr = fixture('zypper/locked-update.txt.stderr');
    const pid = /pid (\d+)/.exec(stderr)?.[1];
    const err = lockedError('upgrade packages', parseLockHolder('', stderr), 60_000);
    assert.equal(err.code, 'locked');
    assert.equal(
      err.message,
      `unable to upgrade packages - zypp lock /run/zypp.pid is held by process ${pid} (sleep) after waiting 60s`,
    );
    assert.equal(err.details?.pid, Number(pid));
    assert.equal(err.details?.lock, '/run/zypp.pid');
  });

  it("a failing %pre: the package and rpm's first error, not the Debian rpm noise", () => {
    const err = zypperFailure('upgrade packages', result(8, '', fixture('zypper/update-pre-fail.txt.stderr')));
    assert.equal(err.code, 'patch-failed');
    assert.equal(
      err.message,
      'unable to upgrade packages - Installation of demo-fail-1.1-1.noarch failed: error: lua script failed: ' +
        '[string "%prein(demo-fail-1.1-1.noarch)"]:1: demo-fail preinstall failed (zypper exit 8)',
    );
  });

  it('a solver problem (stdout) and a repository that is gone (stderr)', () => {
    assert.equal(
      zypperErrorText(fixture('zypper/patch-problem.txt'), ''),
      'Problem: patch:DEMO-SA-2026:0001-1.noarch conflicts with demo-sec < 1.1-1 provided by demo-sec-1.0-1.noarch',
    );
    const refresh = zypperErrorText('', fixture('zypper/refresh-fail.txt.stderr'));
    assert.match(
      refresh ?? '',
      /^Problem retrieving files from 'demo'\. Specified path '.*\/repo' is not a directory: file:/,
    );
    assert.equal(
      zypperErrorText('', fixture('zypper/ps-no-lsof.txt.stderr')),
      "Check failed: Please install package 'lsof' first.",
    );
    assert.equal(zypperErrorText('', ''), null);
    assert.equal(zypperFailure('x', result(4, '', '')).message, 'unable to x - zypper exit 4');
    assert.equal(zypperFailure('x', result(4, '', '')).code, 'patch-failed');
  });

  it('exit codes: 0 and ZYPPER_EXIT_INF_* succeed, 105 (signal) and errors do not', () => {
    for (const code of [0, 100, 101, 102, 103, 104, 106, 107]) assert.ok(isZypperSuccess(code), String(code));
    for (const code of [1, 2, 3, 4, 5, 6, 7, 8, 105, null]) assert.ok(!isZypperSuccess(code), String(code));
    assert.equal(exitNote(102), 'a reboot is needed');
    assert.equal(exitNote(0), null);
  });
});

describe('zypper small outputs', () => {
  it('removelock counts', () => {
    assert.equal(parseRemovedLocks(fixture('zypper/removelock.txt')), 1);
    assert.equal(parseRemovedLocks(fixture('zypper/removelock-none.txt')), 0);
    assert.equal(parseRemovedLocks('2 locks have been successfully removed.'), 2);
    assert.equal(parseRemovedLocks('something else'), null);
  });

  it('ps -sss: service names (shared parseNameList); nothing when no service uses deleted files', () => {
    assert.deepEqual(parseNameList(fixture('zypper/ps-sss.txt')), ['demo-daemon']);
    assert.deepEqual(parseNameList(''), []);
  });
});
