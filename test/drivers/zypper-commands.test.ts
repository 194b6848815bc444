import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as cmd from '../../daemon/drivers/zypper/commands.js';

const Z = (wait: number) => [
  'env',
  'LC_ALL=C',
  `ZYPP_LOCK_TIMEOUT=${wait}`,
  'zypper',
  '--non-interactive',
  '--no-color',
];

describe('zypper argv builders', () => {
  it('every zypper call is non-interactive, uncoloured, C locale, with the lock wait', () => {
    assert.deepEqual(cmd.refreshCommand(60), [...Z(60), 'refresh']);
    assert.deepEqual(cmd.locksCommand(3), [...Z(3), '--xmlout', 'locks']);
  });

  it('read-only queries are XML and do not refresh on their own', () => {
    assert.deepEqual(cmd.listUpdatesCommand(5), [...Z(5), '--xmlout', '--no-refresh', 'list-updates']);
    assert.deepEqual(cmd.listSecurityPatchesCommand(5), [
      ...Z(5),
      '--xmlout',
      '--no-refresh',
      'list-patches',
      '--category',
      'security',
    ]);
    assert.deepEqual(cmd.patchInfoCommand(5, ['openSUSE-SLE-15.6-2024-3245', 'DEMO-SA-2026:0001']), [
      ...Z(5),
      '--xmlout',
      '--no-refresh',
      'info',
      '-t',
      'patch',
      '--',
      'openSUSE-SLE-15.6-2024-3245',
      'DEMO-SA-2026:0001',
    ]);
    assert.deepEqual(cmd.verifyDryRunCommand(5), [...Z(5), '--xmlout', '--no-refresh', 'verify', '--dry-run']);
    assert.throws(() => cmd.patchInfoCommand(5, []));
    assert.throws(() => cmd.patchInfoCommand(5, ['--dry-run']), { code: 'input-invalid' });
    assert.throws(() => cmd.patchInfoCommand(5, ['x y']), { code: 'input-invalid' });
  });

  it('the upgrade: update with licenses agreed; security: patch, interactive patches included', () => {
    assert.deepEqual(cmd.updateCommand(60), [...Z(60), 'update', '--auto-agree-with-licenses']);
    assert.deepEqual(cmd.updateDryRunCommand(60), [...Z(60), '--xmlout', 'update', '--dry-run']);
    assert.deepEqual(cmd.securityPatchCommand(60), [
      ...Z(60),
      'patch',
      '--category',
      'security',
      '--with-interactive',
      '--auto-agree-with-licenses',
    ]);
    assert.deepEqual(cmd.verifyCommand(60), [...Z(60), 'verify']);
  });

  it('locks: validated names and patch:ID after --', () => {
    assert.deepEqual(cmd.addLockCommand(2, ['demo-tool', 'patch:DEMO-SA-2026:0001']), [
      ...Z(2),
      'addlock',
      '--',
      'demo-tool',
      'patch:DEMO-SA-2026:0001',
    ]);
    assert.deepEqual(cmd.removeLockCommand(2, ['libstdc++6']), [...Z(2), 'removelock', '--', 'libstdc++6']);
    assert.throws(() => cmd.addLockCommand(2, []));
    for (const bad of ['nginx;rm -rf /', '--all', 'kernel*', '3', 'patch:', 'patch:--x', 'patch:a b'])
      assert.throws(() => cmd.addLockCommand(2, [bad]), { code: 'input-invalid' }, bad);
    assert.throws(() => cmd.removeLockCommand(2, ['12']), { message: /zypper reads a number as a lock index/ });
  });

  it('reboot, services, versions, config files', () => {
    assert.deepEqual(cmd.needsRebootingCommand(), [...Z(0), 'needs-rebooting']);
    assert.deepEqual(cmd.servicesCommand(), [
      'env',
      'LC_ALL=C',
      'zypper',
      '--non-interactive',
      '--no-color',
      'ps',
      '-sss',
    ]);
    assert.deepEqual(cmd.versionsCommand(), [
      'rpm',
      '-qa',
      '--qf',
      '%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{INSTALLTIME}\\n',
    ]);
    assert.deepEqual(cmd.CONFFILE_SUFFIXES, ['.rpmnew', '.rpmsave']);
    assert.deepEqual(cmd.existsCommand(cmd.REBOOT_NEEDED_FILE), ['test', '-e', '/run/reboot-needed']);
  });
});
