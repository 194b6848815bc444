import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as cmd from '../../daemon/drivers/apt/commands.js';

const APT = ['env', 'DEBIAN_FRONTEND=noninteractive', 'LC_ALL=C', 'apt-get', '-o', 'Dpkg::Use-Pty=0'];

describe('apt argv builders', () => {
  it('refresh survives a changed Release and waits for the lock', () => {
    assert.deepEqual(cmd.refreshCommand(10), [
      ...APT,
      '-o',
      'DPkg::Lock::Timeout=10',
      'update',
      '--allow-releaseinfo-change',
    ]);
  });

  it('simulate takes no lock option', () => {
    assert.deepEqual(cmd.simulateCommand(), [...APT, '-s', 'dist-upgrade']);
  });

  it('lock probe is apt-get check with the wait', () => {
    assert.deepEqual(cmd.lockProbeCommand(3), [...APT, '-o', 'DPkg::Lock::Timeout=3', 'check']);
  });

  it('upgrade keeps config files; --fix-broken only on request', () => {
    const env = [
      'env',
      'DEBIAN_FRONTEND=noninteractive',
      'LC_ALL=C',
      'UCF_FORCE_CONFFOLD=1',
      'APT_LISTCHANGES_FRONTEND=none',
    ];
    const common = ['apt-get', '-o', 'Dpkg::Use-Pty=0', '-o', 'DPkg::Lock::Timeout=60', '-y'];
    const conf = ['-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'];
    assert.deepEqual(cmd.upgradeCommand(60), [...env, ...common, ...conf, 'dist-upgrade']);
    assert.deepEqual(cmd.upgradeCommand(60, { fixBroken: true }), [
      ...env,
      ...common,
      ...conf,
      '--fix-broken',
      'dist-upgrade',
    ]);
  });

  it('holds take validated names after --', () => {
    const mark = ['env', 'DEBIAN_FRONTEND=noninteractive', 'LC_ALL=C', 'apt-mark'];
    assert.deepEqual(cmd.holdCommand(['demo-tool', 'libstdc++6']), [...mark, 'hold', '--', 'demo-tool', 'libstdc++6']);
    assert.deepEqual(cmd.unholdCommand(['demo-tool']), [...mark, 'unhold', '--', 'demo-tool']);
    assert.throws(() => cmd.holdCommand(['nginx;rm -rf /']), { code: 'input-invalid' });
    assert.throws(() => cmd.holdCommand(['--purge']), { code: 'input-invalid' });
    assert.throws(() => cmd.unholdCommand([]));
  });

  it('read-only queries', () => {
    assert.deepEqual(cmd.versionsCommand(), [
      'dpkg-query',
      '-W',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax
      '-f=${Package}\\t${Version}\\t${db:Status-Abbrev}\\n',
    ]);
    assert.deepEqual(cmd.auditCommand(), ['env', 'DEBIAN_FRONTEND=noninteractive', 'LC_ALL=C', 'dpkg', '--audit']);
    assert.deepEqual(cmd.CONFFILE_SUFFIXES, ['.dpkg-dist', '.ucf-dist']);
    assert.equal(cmd.REBOOT_REQUIRED_FILE, '/var/run/reboot-required');
  });

  it('man-db switch moves', () => {
    assert.deepEqual(cmd.moveCommand(cmd.MANDB_AUTO_UPDATE, cmd.MANDB_PARKED), [
      'mv',
      '-f',
      '-T',
      '--',
      '/var/lib/man-db/auto-update',
      '/var/lib/man-db/auto-update.pvepatch',
    ]);
    assert.deepEqual(cmd.existsCommand('/var/lib/man-db/auto-update'), ['test', '-e', '/var/lib/man-db/auto-update']);
  });
});
