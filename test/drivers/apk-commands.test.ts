import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as cmd from '../../daemon/drivers/apk/commands.js';

const APK = ['env', 'LC_ALL=C', 'apk', '--no-progress'];

describe('apk argv builders', () => {
  it('refresh and upgrade wait for the lock with apk --wait', () => {
    assert.deepEqual(cmd.refreshCommand(10), [...APK, '--wait', '10', 'update']);
    assert.deepEqual(cmd.upgradeCommand(60), [...APK, '--wait', '60', 'upgrade']);
  });

  it('the upgrade is plain (no --available, no --ignore); the simulation takes no lock option', () => {
    assert.ok(!cmd.upgradeCommand(5).includes('--available'));
    assert.deepEqual(cmd.simulateCommand(), [...APK, 'upgrade', '--simulate']);
  });

  it('policy and installed versions', () => {
    assert.deepEqual(cmd.policyCommand(['demo-lib', 'py3-foo']), [...APK, 'policy', 'demo-lib', 'py3-foo']);
    assert.throws(() => cmd.policyCommand(['--allow-untrusted']), { code: 'input-invalid' });
    assert.throws(() => cmd.policyCommand([]));
    assert.deepEqual(cmd.versionsCommand(), [...APK, 'info', '-v']);
  });

  it('world pin and restore are copy, write-beside and rename', () => {
    assert.deepEqual(cmd.readWorldCommand(), ['cat', '/etc/apk/world']);
    assert.deepEqual(cmd.backupWorldCommand(), ['cp', '-p', '/etc/apk/world', '/etc/apk/world.pvepatch']);
    assert.deepEqual(cmd.writePinnedCommand(), ['tee', '/etc/apk/world.pvepatch-new']);
    assert.deepEqual(cmd.applyPinnedCommand(), ['mv', '-f', '/etc/apk/world.pvepatch-new', '/etc/apk/world']);
    assert.deepEqual(cmd.restoreWorldCommand(), ['mv', '-f', '/etc/apk/world.pvepatch', '/etc/apk/world']);
    assert.deepEqual(cmd.existsCommand(cmd.WORLD_BACKUP), ['test', '-e', '/etc/apk/world.pvepatch']);
  });

  it('helpers: holder, kernel, reboot list, .apk-new scan (busybox find has no -printf)', () => {
    assert.deepEqual(cmd.lockHolderCommand(), ['pgrep', '-a', 'apk']);
    assert.deepEqual(cmd.conffilesCommand(), [
      'find',
      '/etc',
      '-xdev',
      '-name',
      '*.apk-new',
      '-exec',
      'stat',
      '-c',
      '%Z %n',
      '{}',
      ';',
    ]);
  });
});
