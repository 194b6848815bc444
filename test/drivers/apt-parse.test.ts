import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isLockFailure,
  lastAptError,
  parseAudit,
  parseDpkgQuery,
  parseLockHolder,
  parseShowhold,
  parseSimulation,
} from '../../daemon/drivers/apt/parse.js';
import { describeHolder } from '../../daemon/drivers/shared/lock-wait.js';
import { fixture } from './fixtures.js';

describe('apt parseSimulation', () => {
  it('accepts every Inst variant seen on a real Debian 12 host', () => {
    const sim = parseSimulation(fixture('apt/simulate-host-variants.txt'));
    assert.deepEqual(sim.unparsed, []);
    assert.deepEqual(sim.updates, [
      {
        package: 'bash',
        current_version: '5.2.15-2+b8',
        new_version: '5.2.15-2+b13',
        repository: 'Debian:12.15/oldstable',
        security: false,
      },
      {
        package: 'postgresql-common',
        current_version: '248+deb12u1',
        new_version: '248+deb12u2',
        repository: 'Debian-Security:12/oldstable-security',
        security: true,
      },
      {
        package: 'libgcrypt20',
        current_version: '1.10.1-3',
        new_version: '1.10.1-3+deb12u1',
        repository: 'Debian:12.15/oldstable',
        security: true,
      },
      {
        package: 'libext2fs2',
        current_version: '1.47.0-2',
        new_version: '1.47.0-2+b2',
        repository: 'Debian:12.15/oldstable',
        security: false,
      },
      {
        package: 'hello',
        current_version: null,
        new_version: '2.10-3',
        repository: 'Debian:12.15/oldstable',
        security: false,
      },
    ]);
  });

  it('reads the demo repository and ignores Conf lines', () => {
    const sim = parseSimulation(fixture('apt/simulate-demo.txt'));
    assert.deepEqual(
      sim.updates.map((u) => [u.package, u.current_version, u.new_version, u.repository, u.security]),
      [
        ['demo-lib', '1.0', '1.1', 'Demo:1.0/stable', false],
        ['demo-app', '1.0', '1.1', 'Demo:1.0/stable', false],
      ],
    );
    assert.equal(sim.notFullyInstalled, 0);
  });

  it('reads a Release without Origin as the plain site name', () => {
    const [u] = parseSimulation(fixture('apt/simulate-no-origin.txt')).updates;
    assert.deepEqual(u, {
      package: 'demo-lib',
      current_version: '1.0',
      new_version: '1.1',
      repository: 'localhost',
      security: false,
    });
  });

  it('counts packages not fully installed', () => {
    const sim = parseSimulation(fixture('apt/simulate-broken.txt'));
    assert.equal(sim.notFullyInstalled, 1);
    assert.deepEqual(sim.updates, []);
  });

  it('lists kept-back packages, removals, and strips :arch', () => {
    const stdout = [
      'The following packages have been kept back:',
      '  demo-lib demo-tool',
      '  libc6:i386',
      '0 upgraded, 0 newly installed, 1 to remove and 3 not upgraded.',
      'Remv old-thing [2.0]',
      'Inst libc6:i386 [2.36-9] (2.36-9+deb12u1 Debian:12.15/oldstable [i386])',
      'Inst weird name',
    ].join('\n');
    const sim = parseSimulation(stdout);
    assert.deepEqual(sim.keptBack, ['demo-lib', 'demo-tool', 'libc6']);
    assert.deepEqual(sim.removals, ['old-thing']);
    assert.deepEqual(
      sim.updates.map((u) => u.package),
      ['libc6'],
    );
    assert.deepEqual(sim.unparsed, ['Inst weird name']);
  });

  it('reads a full lab simulation with a held package', () => {
    const sim = parseSimulation(fixture('apt/simulate-lab-kept-back.txt'));
    assert.deepEqual(sim.keptBack, ['demo-lib']);
    assert.deepEqual(
      sim.updates.map((u) => [u.package, u.security]),
      [
        ['demo-app', false],
        ['demo-conf', false],
        ['demo-sec', true],
        ['demo-tool', false],
      ],
    );
    assert.equal(sim.updates[2]?.repository, 'Debian-Security:12/bookworm-security');
    assert.deepEqual(sim.unparsed, []);
  });

  it('marks Ubuntu -security pockets as security', () => {
    const line =
      'Inst libssl3 [3.0.2-0ubuntu1.15] (3.0.2-0ubuntu1.16 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])';
    const [u] = parseSimulation(line).updates;
    assert.equal(u?.security, true);
    assert.equal(u?.repository, 'Ubuntu:22.04/jammy-updates');
  });

  it('refuses names that are not package names', () => {
    const sim = parseSimulation('Inst -rf;x [1] (2 Demo:1.0/stable [all])');
    assert.deepEqual(sim.updates, []);
    assert.equal(sim.unparsed.length, 1);
  });
});

describe('apt small parsers', () => {
  it('parseShowhold keeps unique valid names', () => {
    assert.deepEqual(parseShowhold('demo-lib\ndemo-tool\n'), ['demo-lib', 'demo-tool']);
    assert.deepEqual(parseShowhold(''), []);
  });

  it('parseDpkgQuery keeps installed states only', () => {
    const out = [
      'demo-app\t1.0\tii ',
      'demo-lib\t1.1\thi ',
      'gone\t2.0\trc ',
      'half\t3.0\tiF ',
      'libc6\t2.36\tii ',
      'libc6\t2.36\tii ',
      '',
    ].join('\n');
    assert.deepEqual(
      [...parseDpkgQuery(out)],
      [
        ['demo-app', '1.0'],
        ['demo-lib', '1.1'],
        ['half', '3.0'],
        ['libc6', '2.36'],
      ],
    );
  });

  it('parseAudit: any output is broken, even with exit 0', () => {
    const audit = parseAudit(fixture('apt/audit-broken.txt'));
    assert.equal(audit.broken, true);
    assert.deepEqual(audit.packages, ['demo-broken']);
    assert.deepEqual(parseAudit(''), { broken: false, packages: [], text: '' });
  });

  it('parseLockHolder reads apt and dpkg lock messages', () => {
    const chroot = parseLockHolder(fixture('apt/lock-chroot.stderr.txt'));
    assert.deepEqual(chroot, { kind: 'dpkg lock', lock: '/var/lib/dpkg/lock-frontend', pid: 30848, process: null });
    const named = parseLockHolder(
      'Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 2 (hold-dpkg-lock)... 1s\nE: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 2 (perl)\n',
    );
    assert.deepEqual(named, { kind: 'dpkg lock', lock: '/var/lib/dpkg/lock-frontend', pid: 2, process: 'perl' });
    assert.equal(describeHolder(named!), 'dpkg lock /var/lib/dpkg/lock-frontend is held by process 2 (perl)');
    const dpkg = parseLockHolder(fixture('apt/lock-dpkg.stderr.txt'));
    assert.equal(dpkg?.pid, 30848);
    const lists = parseLockHolder(fixture('apt/lock-lists.stderr.txt'));
    assert.equal(describeHolder(lists!), 'apt lock /var/lib/apt/lists/lock is held by process 30848');
    assert.equal(
      parseLockHolder('E: Could not get lock /var/lib/dpkg/lock - open (11: Resource temporarily unavailable)')?.pid,
      null,
    );
    assert.equal(parseLockHolder('all fine'), null);
    const waited = fixture('apt/lock-wait-check.stderr.txt');
    assert.deepEqual(parseLockHolder(waited), {
      kind: 'dpkg lock',
      lock: '/var/lib/dpkg/lock-frontend',
      pid: 3,
      process: 'holder',
    });
    assert.equal(isLockFailure(waited), true);
    assert.equal(isLockFailure(fixture('apt/lock-apt-mark.stderr.txt')), true);
    assert.equal(parseLockHolder(fixture('apt/lock-apt-mark.stderr.txt'))?.pid, 3);
    assert.equal(isLockFailure(fixture('apt/lock-lists.stderr.txt')), true);
    const lab = fixture('apt/lock-wait-upgrade.txt');
    assert.equal(isLockFailure(lab), true);
    assert.deepEqual(parseLockHolder(lab), {
      kind: 'dpkg lock',
      lock: '/var/lib/dpkg/lock-frontend',
      pid: 123,
      process: 'perl',
    });
    // waited for the lock, got it, then failed for another reason
    assert.equal(
      isLockFailure(`${waited.split('\n')[0]}\nE: Sub-process /usr/bin/dpkg returned an error code (1)\n`),
      false,
    );
  });

  it('lastAptError returns the last E: line', () => {
    assert.equal(
      lastAptError(fixture('apt/upgrade-dpkg-error.stderr.txt')),
      'Sub-process /usr/bin/dpkg returned an error code (1)',
    );
    assert.equal(
      lastAptError(fixture('apt/update-origin-changed.stderr.txt')),
      "Repository 'file:/srv/repo ./ Release' changed its 'Origin' value from '' to 'Demo'",
    );
    assert.equal(lastAptError('W: only a warning'), null);
  });
});
