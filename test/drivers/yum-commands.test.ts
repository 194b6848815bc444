import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as cmd from '../../daemon/drivers/yum/commands.js';

const YUM = ['env', 'LC_ALL=C', 'yum', '--setopt=exit_on_lock=1'];

describe('yum argv builders', () => {
  it('refresh, list, security advisories, check', () => {
    assert.deepEqual(cmd.refreshCommand(), [...YUM, '-q', 'makecache', 'fast']);
    assert.deepEqual(cmd.availableCommand(), [...YUM, '-d', '0', 'check-update']);
    assert.deepEqual(cmd.securityCommand(), [...YUM, '-q', 'updateinfo', 'list', 'security']);
    assert.deepEqual(cmd.checkCommand(), [...YUM, '-q', 'check']);
  });

  it('plan and upgrade: --security and one --exclude= per validated name; the plan saves no transaction', () => {
    const filters = { exclude: ['kernel', 'openssl-libs'], securityOnly: true };
    const args = ['--security', '--exclude=kernel', '--exclude=openssl-libs'];
    assert.deepEqual(cmd.planCommand(filters), [...YUM, '--assumeno', '--setopt=autosavets=0', ...args, 'update']);
    assert.deepEqual(cmd.upgradeCommand(filters), [...YUM, '-y', ...args, 'update']);
    assert.deepEqual(cmd.upgradeCommand({ exclude: [], securityOnly: false }), [...YUM, '-y', 'update']);
    assert.throws(() => cmd.upgradeCommand({ exclude: ['a b'], securityOnly: false }), { code: 'input-invalid' });
    assert.throws(() => cmd.planCommand({ exclude: ['*'], securityOnly: false }), { code: 'input-invalid' });
  });

  it('needs-restarting from yum-utils, probed first', () => {
    assert.deepEqual(cmd.needsRestartingPresentCommand(), ['test', '-x', '/usr/bin/needs-restarting']);
    assert.deepEqual(cmd.needsRestartingCommand('reboot'), ['env', 'LC_ALL=C', '/usr/bin/needs-restarting', '-r']);
    assert.deepEqual(cmd.needsRestartingCommand('services'), ['env', 'LC_ALL=C', '/usr/bin/needs-restarting', '-s']);
  });

  it('lock and config files', () => {
    assert.equal(cmd.YUM_PID_FILE, '/var/run/yum.pid');
    assert.equal(cmd.YUM_CONF, '/etc/yum.conf');
    assert.equal(cmd.VERSIONLOCK_LIST, '/etc/yum/pluginconf.d/versionlock.list');
  });
});
