import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as cmd from '../../daemon/drivers/dnf/commands.js';
import * as rpm from '../../daemon/drivers/rpm-common/commands.js';

const DNF = ['env', 'LC_ALL=C', 'dnf', '--setopt=exit_on_lock=True'];

describe('dnf argv builders', () => {
  it('refresh expires and downloads metadata', () => {
    assert.deepEqual(cmd.refreshCommand(), [...DNF, '-q', '--refresh', 'makecache']);
  });

  it('reads: repoquery upgrades, security advisories, check', () => {
    assert.deepEqual(cmd.availableCommand(), [
      ...DNF,
      '-q',
      'repoquery',
      '--upgrades',
      '--latest-limit=1',
      '--qf',
      '%{name}\\t%{arch}\\t%{evr}\\t%{repoid}',
    ]);
    assert.deepEqual(cmd.securityCommand(), [...DNF, '-q', 'updateinfo', 'list', '--security', '--updates']);
    assert.deepEqual(cmd.checkCommand(), [...DNF, '-q', 'check']);
  });

  it('plan and upgrade share the filters: --security, one --exclude= per validated name', () => {
    const filters = { exclude: ['demo-tool', 'libstdc++'], securityOnly: true };
    const args = ['--security', '--exclude=demo-tool', '--exclude=libstdc++'];
    assert.deepEqual(cmd.planCommand(filters), [...DNF, '--assumeno', ...args, 'upgrade']);
    assert.deepEqual(cmd.upgradeCommand(filters), [...DNF, '-y', ...args, 'upgrade']);
    assert.deepEqual(cmd.upgradeCommand({ exclude: [], securityOnly: false }), [...DNF, '-y', 'upgrade']);
    assert.throws(() => cmd.upgradeCommand({ exclude: ['x;reboot'], securityOnly: false }), { code: 'input-invalid' });
    assert.throws(() => cmd.planCommand({ exclude: ['--nogpgcheck'], securityOnly: false }), { code: 'input-invalid' });
  });

  it('needs-restarting through dnf', () => {
    assert.deepEqual(cmd.needsRestartingCommand('reboot'), [...DNF, '-q', 'needs-restarting', '-r']);
    assert.deepEqual(cmd.needsRestartingCommand('services'), [...DNF, '-q', 'needs-restarting', '-s']);
  });

  it('lock and config files', () => {
    assert.deepEqual(cmd.DNF_PID_FILES, [
      '/var/lib/dnf/rpmdb_lock.pid',
      '/var/cache/dnf/metadata_lock.pid',
      '/var/cache/dnf/download_lock.pid',
    ]);
    assert.equal(cmd.DNF_CONF, '/etc/dnf/dnf.conf');
    assert.equal(cmd.VERSIONLOCK_LIST, '/etc/dnf/plugins/versionlock.list');
  });
});

describe('rpm-level argv builders', () => {
  it('rpm queries', () => {
    assert.deepEqual(rpm.installedCommand(), [
      'env',
      'LC_ALL=C',
      'rpm',
      '-qa',
      '--qf',
      '%{NAME}\\t%{ARCH}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n',
    ]);
    assert.deepEqual(rpm.verifyDbCommand(), ['env', 'LC_ALL=C', 'rpm', '--verifydb']);
    assert.deepEqual(rpm.unameCommand(), ['uname', '-r']);
  });

  it('files: conffile suffixes, pid files, /proc comm, config files', () => {
    assert.deepEqual(rpm.CONFFILE_SUFFIXES, ['.rpmnew', '.rpmsave']);
    assert.deepEqual(rpm.pidFileCommand('/var/run/yum.pid'), ['head', '-n', '1', '--', '/var/run/yum.pid']);
    assert.deepEqual(rpm.processNameCommand(42), ['cat', '/proc/42/comm']);
    assert.throws(() => rpm.processNameCommand(Number.NaN));
    assert.throws(() => rpm.processNameCommand(-1));
    assert.deepEqual(rpm.readFileCommand('/etc/dnf/dnf.conf'), ['cat', '--', '/etc/dnf/dnf.conf']);
  });
});
