import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCheck, parseRebootHint, parseUpdateinfoList } from '../../daemon/drivers/rpm-common/parse.js';
import { parsePackageColumns, parseTransactionTable } from '../../daemon/drivers/rpm-common/parse-table.js';
import { isUnknownCommand, parseYumLock, yumFailureCause } from '../../daemon/drivers/yum/parse.js';
import { fixture } from './fixtures.js';

describe('yum check-update (captured outputs)', () => {
  it('rebuilds rows whose name or version overflowed onto indented lines', () => {
    assert.deepEqual(parsePackageColumns(fixture('yum/check-update-wrapped-long.txt')), [
      {
        name: 'empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty',
        arch: 'x86_64',
        evr: '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1-0',
        repository: 'addons',
      },
      { name: 'libtiff', arch: 'x86_64', evr: '4.0.3-27.el7_3', repository: 'updates' },
    ]);
    const repo = parsePackageColumns(fixture('yum/check-update-wrapped-repo.txt'));
    assert.deepEqual(
      repo.map((p) => [p.name, p.evr, p.repository]),
      [
        ['ipxe-roms-qemu', '20160127-1.git6366fa7a.el7', 'rhelosp-9.0-director-puddle'],
        ['quota', '1:4.01-11.el7_2.1', 'rhelosp-rhel-7.2-z'],
        ['quota-nls', '1:4.01-11.el7_2.1', 'rhelosp-rhel-7.2-z'],
        ['rdma', '7.2_4.1_rc6-2.el7', 'rhelosp-rhel-7.2-z'],
        ['screen', '4.1.0-0.23.20120314git3c2946.el7_2', 'rhelosp-rhel-7.2-z'],
        ['sos', '3.2-36.el7ost.2', 'rhelosp-9.0-puddle'],
        ['sssd-client', '1.13.0-40.el7_2.12', 'rhelosp-rhel-7.2-z'],
      ],
    );
  });

  it('skips plugin chatter and stops at Obsoleting Packages', () => {
    const list = parsePackageColumns(fixture('yum/check-update-obsoletes.txt'));
    assert.deepEqual(
      list.map((p) => p.name),
      [
        'NetworkManager-openvpn',
        'NetworkManager-openvpn-gnome',
        'cabal-install',
        'cgit',
        'python34-libs',
        'python34-test',
        'python34-tkinter',
        'python34-tools',
        'qgit',
        'rdiff-backup',
        'stoken-libs',
        'xlockmore',
      ],
    );
    assert.equal(list[0]?.evr, '1:1.2.6-1.el7');
    assert.deepEqual(
      parsePackageColumns(fixture('yum/check-update-longname.txt')).map((p) => [p.name, p.evr]),
      [
        ['xxxxxxxxxxxxxxxxxxxxxxxxxx', '1.16-1'],
        ['glibc', '2.17-157.el7_3.1'],
      ],
    );
  });
});

describe('yum updateinfo, tables, check, needs-restarting', () => {
  it('updateinfo list: EL7 severity labels with the all-marks, EL5 plain "security"', () => {
    const el7 = parseUpdateinfoList(fixture('yum/updateinfo-list-security-all.txt'));
    assert.equal(el7.length, 13);
    assert.ok(el7.every((a) => a.security));
    assert.deepEqual([...new Set(el7.map((a) => a.name))], ['389-ds-base', '389-ds-base-libs']);
    const el5 = parseUpdateinfoList(fixture('yum/updateinfo-list-sec-el5.txt'));
    assert.deepEqual(
      el5.map((a) => [a.id, a.security, a.name, a.evr]),
      [
        ['RHBA-2014:1368', false, 'at', '3.1.8-84.el5_11.1'],
        ['RHSA-2014:1984', true, 'bind-libs', '30:9.3.6-25.P1.el5_11.2'],
        ['RHSA-2015:1514', true, 'bind-libs', '30:9.3.6-25.P1.el5_11.3'],
        ['RHEA-2016:2832', false, 'tzdata', '2016j-1.el5'],
        ['RHBA-2015:1652', false, 'udev', '095-14.33.el5_11'],
      ],
    );
  });

  it('transaction tables: yum section names, an overflowing Size heading and overflowing names', () => {
    const install = parseTransactionTable(fixture('yum/table-install.txt'));
    assert.deepEqual(install.unparsed, []);
    assert.equal(install.entries.length, 13);
    assert.ok(install.entries.every((e) => e.action === 'install'));
    assert.deepEqual(install.entries[5], {
      action: 'install',
      name: 'audit-libs',
      arch: 'x86_64',
      evr: '3.0-0.10.20180831git0047a6c.el8',
      repository: 'BaseOS',
    });
    const update = parseTransactionTable(fixture('yum/table-overflow.txt'));
    assert.deepEqual(update.unparsed, []);
    assert.equal(update.entries.length, 16);
    assert.deepEqual(update.entries[5], {
      action: 'upgrade',
      name: 'libvirt-daemon-driver-storage-gluster',
      arch: 'x86_64',
      evr: '4.5.0-10.el7_6.12',
      repository: 'updates',
    });
    assert.equal(update.entries[14]?.evr, '7:2.02.180-10.el7_6.8');
  });

  it('yum check lines', () => {
    assert.deepEqual(parseCheck(fixture('yum/check-problems.txt')), [
      'webmin-2.011-1.noarch has missing requires of perl(Digest::SHA)',
      'webmin-2.011-1.noarch has missing requires of perl(Digest::MD5)',
    ]);
  });

  it('yum-utils needs-restarting -r', () => {
    assert.deepEqual(parseRebootHint(fixture('yum/needs-restarting-required.txt')), {
      required: true,
      packages: ['kernel'],
    });
    assert.deepEqual(parseRebootHint(fixture('yum/needs-restarting-not-required.txt')), {
      required: false,
      packages: [],
    });
    // yum-utils before EL 7.3 has no -r: optparse exits 2 with the error on stderr, nothing on stdout
    assert.equal(parseRebootHint(''), null);
    assert.equal(parseRebootHint('needs-restarting: error: no such option: -r\n'), null);
  });
});

describe('yum locks and failures', () => {
  it('names the holder from a waiting yum and from exit_on_lock', () => {
    assert.deepEqual(parseYumLock(fixture('yum/lock-wait.txt')), {
      kind: 'yum lock',
      lock: '/var/run/yum.pid',
      pid: 25315,
      process: 'yum',
    });
    assert.deepEqual(parseYumLock(fixture('yum/lock-exit-on-lock.stderr.txt')), {
      kind: 'yum lock',
      lock: '/var/run/yum.pid',
      pid: 2990,
      process: null,
    });
    assert.equal(parseYumLock(fixture('yum/deps-failed.txt')), null);
  });

  it("takes yum's Error: line with its Requires:, or the repository failure", () => {
    assert.equal(
      yumFailureCause(fixture('yum/deps-failed.txt')),
      'Package: resource-agents-4.0.1-1.el7.x86_64 (/resource-agents-4.0.1-1.el7.x86_64) Requires: /sbin/fuser',
    );
    assert.equal(
      yumFailureCause('', fixture('yum/repo-failed.stderr.txt')),
      'Cannot retrieve repository metadata (repomd.xml) for repository: nodesource. Please verify its path and try again',
    );
    assert.equal(
      yumFailureCause(fixture('yum/repo-mirrors-failed.txt')),
      'failure: repodata/6d0c3a48...-primary.sqlite.bz2 from base: [Errno 256] No more mirrors to try.',
    );
    assert.equal(yumFailureCause('', 'something odd\n'), 'something odd');
    assert.equal(yumFailureCause('', ''), null);
  });

  it('an updateinfo yum does not have (EL6 without yum-plugin-security) is recognised', () => {
    assert.equal(isUnknownCommand('No such command: updateinfo. Please use /usr/bin/yum --help\n'), true);
    assert.equal(isUnknownCommand('Command line error: no such option: --security\n'), true);
    assert.equal(isUnknownCommand(fixture('yum/deps-failed.txt')), false);
  });
});
