import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecResult } from '../../daemon/core/exec.js';
import { DNF_LOCK_FILES, parseDnfLock, parseRepoquery } from '../../daemon/drivers/dnf/parse.js';
import {
  failureCause,
  parseCheck,
  parseRebootHint,
  parseServices,
  parseUpdateinfoList,
} from '../../daemon/drivers/rpm-common/parse.js';
import { parsePackageColumns, parseTransactionTable } from '../../daemon/drivers/rpm-common/parse-table.js';
import { failed } from '../../daemon/drivers/rpm-common/steps.js';
import { plannedChanges } from '../../daemon/drivers/rpm-common/upgrade.js';
import { fixture } from './fixtures.js';

const res = (exitCode: number, stdout: string, stderr = ''): ExecResult => ({
  exitCode,
  signal: null,
  stdout,
  stderr,
  truncated: false,
  durationMs: 1,
  timedOut: false,
});

describe('dnf listing parsers', () => {
  it('repoquery: newest upgrade per package with its repository', () => {
    assert.deepEqual(parseRepoquery(fixture('dnf/repoquery-v2.txt')), [
      { name: 'demo-app', arch: 'noarch', evr: '1.1-1', repository: 'demo' },
      { name: 'demo-conf', arch: 'noarch', evr: '1.1-1', repository: 'demo' },
      { name: 'demo-lib', arch: 'noarch', evr: '1.1-1', repository: 'demo' },
      { name: 'demo-sec', arch: 'noarch', evr: '1.1-1', repository: 'demo-security' },
      { name: 'demo-tool', arch: 'noarch', evr: '1.1-1', repository: 'demo' },
      { name: 'kernel-core', arch: 'noarch', evr: '6.2.0-1', repository: 'demo' },
    ]);
    const excluded = parseRepoquery(fixture('dnf/repoquery-excludepkgs.txt')).map((p) => p.name);
    assert.deepEqual(excluded, ['demo-app', 'demo-conf', 'demo-lib', 'demo-sec']);
    assert.equal(parseRepoquery(fixture('dnf/repoquery-extra.txt'))[2]?.evr, '1.1.20261122git0123456789abcdef-1');
  });

  it('updateinfo list: security advisories by severity label, others not', () => {
    assert.deepEqual(parseUpdateinfoList(fixture('dnf/updateinfo-all.txt')), [
      { id: 'DEMO-2026-0001', type: 'Important/Sec.', security: true, name: 'demo-sec', evr: '1.1-1' },
      { id: 'DEMO-2026-0002', type: 'bugfix', security: false, name: 'demo-tool', evr: '1.1-1' },
    ]);
    assert.deepEqual(
      parseUpdateinfoList(fixture('dnf/updateinfo-security.txt')).map((a) => a.name),
      ['demo-sec'],
    );
  });
});

describe('transaction tables (--assumeno)', () => {
  it('lists the upgrades of the demo repository', () => {
    const { entries, unparsed } = parseTransactionTable(fixture('dnf/plan-v2.txt'));
    assert.deepEqual(unparsed, []);
    assert.deepEqual(
      entries.map((e) => [e.action, e.name, e.evr, e.repository]),
      [
        ['upgrade', 'demo-app', '1.1-1', 'demo'],
        ['upgrade', 'demo-conf', '1.1-1', 'demo'],
        ['upgrade', 'demo-lib', '1.1-1', 'demo'],
        ['upgrade', 'demo-sec', '1.1-1', 'demo-security'],
        ['upgrade', 'demo-tool', '1.1-1', 'demo'],
        ['upgrade', 'kernel-core', '6.2.0-1', 'demo'],
      ],
    );
    assert.deepEqual(
      parseTransactionTable(fixture('dnf/plan-security.txt')).entries.map((e) => e.name),
      ['demo-sec'],
    );
    assert.deepEqual(parseTransactionTable(fixture('dnf/plan-nothing.txt')).entries, []);
  });

  it('install-only kernels are installs, obsoleted packages removals', () => {
    const plan = { entries: parseTransactionTable(fixture('dnf/plan-extra.txt')).entries, output: '' };
    const current = new Map([
      ['kernel', '6.1.0-1'],
      ['demo-old', '1.0-1'],
      ['demo-lib', '1.0-1'],
    ]);
    assert.deepEqual(plannedChanges(plan, current).slice(0, 4), [
      { package: 'demo-new', before: null, after: '1.1-1' },
      { package: 'demo-old', before: '1.0-1', after: null },
      { package: 'kernel', before: '6.1.0-1', after: '6.2.0-1' },
      { package: 'demo-lib', before: '1.0-1', after: '1.1-1' },
    ]);
  });

  it('rebuilds rows that overflow their column onto indented lines', () => {
    const table = [
      'Updating:',
      ' empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty.x86_64',
      ' python-bugzilla-develdashboardfixes',
      '                    noarch            1.2.2-3.el7_2.1       mhlavink-developerdashboard     90 k',
      '     replacing  python-bugzilla.noarch 1.2.2-3.el7',
      'Skipped (dependency problems):',
      ' foo     x86_64   1.0-1   base   1 k',
    ].join('\n');
    const { entries, unparsed } = parseTransactionTable(table);
    assert.deepEqual(unparsed, [
      'empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty.x86_64',
    ]);
    assert.deepEqual(
      entries.map((e) => [e.action, e.name, e.evr]),
      [
        ['upgrade', 'python-bugzilla-develdashboardfixes', '1.2.2-3.el7_2.1'],
        ['remove', 'python-bugzilla', '1.2.2-3.el7'],
        ['skip', 'foo', '1.0-1'],
      ],
    );
  });

  it('package columns (check-update style) stop at Obsoleting Packages', () => {
    const text = '\ndemo-app.noarch   1.1-1   demo\nObsoleting Packages\ndemo-new.noarch  1.1-1  demo\n';
    assert.deepEqual(parsePackageColumns(text), [
      { name: 'demo-app', arch: 'noarch', evr: '1.1-1', repository: 'demo' },
    ]);
  });
});

describe('dnf locks, failures and needs-restarting', () => {
  it('names the holder of a dnf pid-file lock and of rpm transaction lock', () => {
    assert.deepEqual(parseDnfLock(fixture('dnf/lock-rpmdb.stderr.txt')), {
      kind: 'dnf lock',
      lock: '/var/lib/dnf/rpmdb_lock.pid',
      pid: 12808,
      process: 'python3',
    });
    assert.deepEqual(parseDnfLock(fixture('dnf/lock-metadata.stderr.txt')), {
      kind: 'dnf lock',
      lock: '/var/cache/dnf/metadata_lock.pid',
      pid: 13327,
      process: 'python3',
    });
    const rpm = parseDnfLock(fixture('dnf/lock-rpm.stderr.txt'));
    assert.equal(rpm?.kind, 'rpm transaction lock');
    assert.match(rpm?.lock ?? '', /\/var\/lib\/rpm\/\.rpm\.lock$/);
    assert.equal(parseDnfLock(fixture('dnf/upgrade-failed.stderr.txt')), null);
    assert.deepEqual(DNF_LOCK_FILES, {
      RPMDB: '/var/lib/dnf/rpmdb_lock.pid',
      metadata: '/var/cache/dnf/metadata_lock.pid',
      cachedir: '/var/cache/dnf/download_lock.pid',
      log: '/var/log/log_lock.pid',
    });
  });

  it("takes dnf's Error: line, its continuation and an earlier scriptlet error", () => {
    assert.equal(
      failureCause('', fixture('dnf/upgrade-failed.stderr.txt')),
      'Transaction failed (Error in PREIN scriptlet in rpm package demo-broken)',
    );
    assert.equal(
      failureCause('', fixture('dnf/refresh-failed.stderr.txt')),
      "Failed to download metadata for repo 'demo': Cannot download repomd.xml: Cannot download repodata/repomd.xml: All mirrors were tried",
    );
    assert.equal(
      failureCause(
        '',
        'Error: Transaction test error:\n  file /a from install of b conflicts with file from package c\n',
      ),
      'Transaction test error: file /a from install of b conflicts with file from package c',
    );
    // nothing printed: no cause of its own; the step's failure names the exit code
    assert.equal(failureCause('', ''), null);
    const err = failed('upgrade packages', res(3, '', ''));
    assert.equal(err.code, 'patch-failed');
    assert.equal(err.message, 'unable to upgrade packages - exit code 3');
    assert.equal(
      failed('upgrade packages', res(1, '', fixture('dnf/upgrade-failed.stderr.txt'))).message,
      'unable to upgrade packages - Transaction failed (Error in PREIN scriptlet in rpm package demo-broken)',
    );
  });

  it('dnf check lists one problem per line', () => {
    assert.deepEqual(parseCheck(fixture('dnf/check-broken.txt')), [
      'demo-app-1.1-1.noarch has missing requires of demo-lib >= 1.0',
    ]);
  });

  it('needs-restarting -r: required, not required, or no answer', () => {
    // dnf-plugins-core plugins/needs_restarting.py output format (rpm-software-management/dnf-plugins-core)
    const dnfRequired = [
      'Core libraries or services have been updated since boot-up:',
      '  * glibc',
      '  * kernel-core',
      '',
      'Reboot is required to fully utilize these updates.',
      'More information: https://access.redhat.com/solutions/27943',
    ].join('\n');
    assert.deepEqual(parseRebootHint(dnfRequired), { required: true, packages: ['glibc', 'kernel-core'] });
    const none = 'No core libraries or services have been updated since boot-up.\nReboot should not be necessary.\n';
    assert.deepEqual(parseRebootHint(none), { required: false, packages: [] });
    // "No such command" goes to stderr, stdout is empty: no answer
    assert.equal(parseRebootHint(''), null);
    assert.equal(parseRebootHint(fixture('dnf/needs-restarting-missing.stderr.txt')), null);
    assert.deepEqual(parseServices('sshd.service\nchronyd.service\nnot a unit\n'), ['chronyd.service', 'sshd.service']);
  });
});
