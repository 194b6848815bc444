import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as cmd from '../../daemon/drivers/pacman/commands.js';

const PACMAN = ['env', 'LC_ALL=C', 'pacman'];

describe('pacman argv builders', () => {
  it('refresh forces every database (-Syy), never installs', () => {
    assert.deepEqual(cmd.refreshCommand(), [...PACMAN, '-Syy', '--noconfirm']);
  });

  it('pending and installed versions are plain queries', () => {
    assert.deepEqual(cmd.pendingCommand(), [...PACMAN, '-Qu']);
    assert.deepEqual(cmd.versionsCommand(), [...PACMAN, '-Q']);
  });

  it('the plan is -Su --print with a name/version/repository format and the same --ignores', () => {
    const print = [...PACMAN, '-Su', '--print', '--noconfirm', '--print-format', '%n %v %r'];
    assert.deepEqual(cmd.planCommand(), print);
    assert.deepEqual(cmd.planCommand(['demo-tool', 'libstdc++']), [
      ...print,
      '--ignore',
      'demo-tool',
      '--ignore',
      'libstdc++',
    ]);
  });

  it('the upgrade is -Su (never -Sy alone, never a single package), exclusions as --ignore', () => {
    assert.deepEqual(cmd.upgradeCommand(), [...PACMAN, '-Su', '--noconfirm']);
    assert.deepEqual(cmd.upgradeCommand(['demo-tool']), [...PACMAN, '-Su', '--noconfirm', '--ignore', 'demo-tool']);
  });

  it('refuses names that could be read as options or by a shell', () => {
    assert.throws(() => cmd.upgradeCommand(['--config=/tmp/x']), { code: 'input-invalid' });
    assert.throws(() => cmd.planCommand(['a,b']), { code: 'input-invalid' });
    assert.throws(() => cmd.upgradeCommand(['nginx;rm -rf /']), { code: 'input-invalid' });
  });

  it('helpers: pacman-conf, lock, holder, kernel, reboot files, .pacnew scan', () => {
    assert.deepEqual(cmd.ignoreConfigCommand(), ['env', 'LC_ALL=C', 'pacman-conf', 'IgnorePkg', 'IgnoreGroup']);
    assert.deepEqual(cmd.lockPresentCommand(), ['test', '-e', '/var/lib/pacman/db.lck']);
    assert.deepEqual(cmd.lockHolderCommand(), ['pgrep', '-a', 'pacman']);
    assert.deepEqual(cmd.CONFFILE_SUFFIXES, ['.pacnew']);
  });
});
