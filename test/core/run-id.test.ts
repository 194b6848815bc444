import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatRunId, newRunId, parseRunId } from '../../daemon/core/run-id.js';
import { assertPackageNames, isValidPackageName } from '../../daemon/core/validate.js';

describe('run id', () => {
  it('round-trips every field', () => {
    const parts = {
      node: 'pve1',
      start: 0x6740a1b2,
      nonce: 0xbeef,
      type: 'run',
      vmid: '101',
      trigger: 'cli',
      user: 'root@pam',
    } as const;
    const id = formatRunId(parts);
    assert.equal(id, 'PVEPATCH:pve1:6740A1B2:BEEF:run:101:cli:root@pam:');
    assert.deepEqual(parseRunId(id), parts);
    const fresh = newRunId(
      { node: 'pve1', type: 'dryrun', vmid: '', trigger: 'api', user: 'root@pam' },
      new Date(1_700_000_000_000),
    );
    assert.equal(parseRunId(fresh).start, 1_700_000_000);
    assert.throws(() => parseRunId('../../etc/passwd'), /invalid run id/);
  });
});

describe('package names', () => {
  it('accepts real names and refuses anything a shell or option parser could read', () => {
    for (const ok of [
      'nginx',
      'libc6',
      'g++',
      'python3.11',
      'libstdc++6',
      'NetworkManager',
      'perl-Net_SSLeay',
      'lib32-glibc',
    ])
      assert.ok(isValidPackageName(ok), ok);
    for (const bad of [
      'nginx;rm -rf /',
      'nginx; rm -rf /',
      '-oAPT::x',
      '$(id)',
      'a b',
      '',
      'pkg/../x',
      "x'y",
      '`id`',
    ]) {
      assert.equal(isValidPackageName(bad), false, bad);
    }
    assert.throws(() => assertPackageNames(['nginx;rm -rf /']), /invalid package name 'nginx;rm -rf \/'/);
  });
});
