import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import type { ExecResult } from '../../daemon/core/exec.js';
import { GuestExec } from '../../daemon/drivers/shared/guest-exec.js';
import { failedUnitsCommand } from '../../daemon/engine/verify/commands.js';
import { describeFailedUnits, interpretFailedUnits, readFailedUnits } from '../../daemon/engine/verify/failed-units.js';
import { diffFailed, MAX_FAILED_UNITS, parseFailedUnits, scanFailedUnits } from '../../daemon/engine/verify/parse.js';
import { isValidUnitName } from '../../daemon/policy/checks.js';
import { LocalTransport } from './local-transport.js';
import { stubSystemctl } from './stub-systemctl.js';

/** `systemctl list-units --failed --plain --no-legend --no-pager --full` on a Debian 12 guest (systemd 252). */
const DEBIAN_FAILED = [
  'apache2.service                                         loaded    failed failed The Apache HTTP Server',
  'phpsessionclean.timer                                   loaded    failed failed Clean PHP session files every 30 mins',
  'systemd-fsck@dev-disk-by\\x2duuid-4f1c\\x2d9a2e.service loaded    failed failed File System Check on /dev/disk/by-uuid/4f1c-9a2e',
  'ghost.service                                           not-found failed failed ghost.service',
  'mnt-backup.mount                                        loaded    failed failed /mnt/backup',
  '',
].join('\n');

const result = (over: Partial<ExecResult>): ExecResult => ({
  exitCode: 0,
  signal: null,
  stdout: '',
  stderr: '',
  truncated: false,
  durationMs: 1,
  timedOut: false,
  ...over,
});

describe('failed units: command', () => {
  it('asks systemctl for failed units as a plain list without legend, pager or ellipsis', () => {
    assert.deepEqual(failedUnitsCommand(), [
      'systemctl',
      'list-units',
      '--failed',
      '--plain',
      '--no-legend',
      '--no-pager',
      '--full',
    ]);
  });
});

describe('failed units: parsing', () => {
  it('reads the unit names of plain no-legend lines', () => {
    assert.deepEqual(parseFailedUnits(DEBIAN_FAILED), [
      'apache2.service',
      'phpsessionclean.timer',
      'systemd-fsck@dev-disk-by\\x2duuid-4f1c\\x2d9a2e.service',
      'ghost.service',
      'mnt-backup.mount',
    ]);
    assert.deepEqual(parseFailedUnits(''), []);
    assert.deepEqual(parseFailedUnits('\n\n'), []);
  });

  it('reads lines with a bullet and CRLF line ends, and skips a legend if one is printed', () => {
    const withLegend = [
      '  UNIT            LOAD   ACTIVE SUB    DESCRIPTION',
      '\u25cf nginx.service   loaded failed failed A high performance web server',
      '* cron.service    loaded failed failed Regular background program processing daemon\r',
      '',
      'LOAD   = Reflects whether the unit definition was properly loaded.',
      'ACTIVE = The high-level unit activation state, i.e. generalization of SUB.',
      'SUB    = The low-level unit activation state, values depend on unit type.',
      '2 loaded units listed.',
    ].join('\n');
    assert.deepEqual(parseFailedUnits(withLegend), ['nginx.service', 'cron.service']);
  });

  it('ignores lines that are not failed-unit lines', () => {
    const garbage = [
      'nginx.service loaded active running A web server', // not failed
      'nginx loaded failed failed no unit type', // no suffix
      'nginx.bogus loaded failed failed unknown unit type',
      'ng;inx.service loaded failed failed bad character',
      'foo\x1b[31m.service loaded failed failed escape in the name',
      '.service loaded failed failed nothing before the dot',
      'a.service failed', // too few columns
      `${'a'.repeat(300)}.service loaded failed failed too long`,
      'Failed to list units: Access denied',
      '\u0000\u0001\u0002',
      'ok.socket loaded failed failed Fine',
      'ok.socket loaded failed failed Twice',
    ].join('\n');
    assert.deepEqual(parseFailedUnits(garbage), ['ok.socket']);
  });

  it('stays bounded and fast on hostile output', () => {
    const cases: [string, string][] = [
      ['one 16 MiB line', 'x'.repeat(16 * 1024 * 1024)],
      ['a long line that starts like a unit', `a.service loaded failed failed ${'d'.repeat(4 * 1024 * 1024)}`],
      [
        '100k failed units',
        Array.from({ length: 100_000 }, (_, i) => `u${i}.service loaded failed failed D`).join('\n'),
      ],
      ['100k garbage lines', Array.from({ length: 100_000 }, (_, i) => `\x1b]0;${i}\x07 garbage`).join('\n')],
      ['16 MiB of spaces', ' '.repeat(16 * 1024 * 1024)],
      ['16 MiB of newlines', '\n'.repeat(16 * 1024 * 1024)],
      ['100k copies of one unit', 'same.service loaded failed failed D\n'.repeat(100_000)],
      ['2M lines of " failed"', ' failed\n'.repeat(2 * 1024 * 1024)],
      ['800k near misses', 'a.service x failed\n'.repeat(800 * 1024)],
    ];
    for (const [what, text] of cases) {
      const started = performance.now();
      const scan = scanFailedUnits(text);
      const ms = performance.now() - started;
      assert.ok(ms < 500, `${what}: ${ms} ms`);
      assert.ok(scan.units.length <= MAX_FAILED_UNITS, what);
    }
    const many = scanFailedUnits(
      Array.from({ length: 100_000 }, (_, i) => `u${i}.service loaded failed failed D`).join('\n'),
    );
    assert.equal(many.units.length, MAX_FAILED_UNITS);
    assert.equal(many.truncated, true);
    const same = (n: number) => scanFailedUnits('same.service loaded failed failed D\n'.repeat(n));
    assert.deepEqual(same(10_000), { units: ['same.service'], truncated: false });
    // far more lines than any listing has: what was read is kept, and the answer says it is cut
    assert.deepEqual(same(100_000), { units: ['same.service'], truncated: true });
  });

  it('returns only valid unit names, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        for (const u of parseFailedUnits(`${text}\n${text} loaded failed failed x`)) assert.ok(isValidUnitName(u), u);
      }),
      { numRuns: 300 },
    );
  });

  it('diffs before and after', () => {
    assert.deepEqual(diffFailed(['a.service', 'b.service'], ['b.service', 'c.service', 'd.timer']), [
      'c.service',
      'd.timer',
    ]);
    assert.deepEqual(diffFailed(['a.service'], []), []);
    assert.deepEqual(diffFailed([], ['a.service']), ['a.service']);
  });
});

describe('failed units: what systemctl said', () => {
  it('tells a guest without systemd from one without failed units', () => {
    assert.deepEqual(interpretFailedUnits(result({ stdout: '' })), { available: true, units: [], truncated: false });
    const notBooted = interpretFailedUnits(
      result({
        exitCode: 1,
        stderr:
          "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n",
      }),
    );
    assert.deepEqual(notBooted, {
      available: false,
      reason:
        "systemd is not running in the guest (System has not been booted with systemd as init system (PID 1). Can't operate.)",
    });
    const el7Docker = interpretFailedUnits(
      result({ exitCode: 1, stderr: 'Failed to get D-Bus connection: Operation not permitted\n' }),
    );
    assert.match(el7Docker.available ? '' : el7Docker.reason, /^systemd is not running in the guest/);
    const missing = interpretFailedUnits(result({ exitCode: 127, stderr: 'sh: 1: systemctl: not found\n' }));
    assert.deepEqual(missing, {
      available: false,
      reason: 'systemctl is not installed in the guest (sh: 1: systemctl: not found)',
    });
    const other = interpretFailedUnits(result({ exitCode: 1, stderr: 'Access denied\x1b[2J\n' }));
    assert.deepEqual(other, { available: false, reason: 'systemctl list-units exited 1 (Access denied\\x1b[2J)' });
    const killed = interpretFailedUnits(result({ exitCode: null, signal: 'SIGKILL' }));
    assert.deepEqual(killed, { available: false, reason: 'systemctl list-units was stopped (SIGKILL)' });
  });

  it('describes the answer for a report, escaping guest text', () => {
    assert.equal(describeFailedUnits({ available: true, units: [], truncated: false }), 'no failed units');
    assert.equal(
      describeFailedUnits({ available: true, units: ['a.service', 'b.timer'], truncated: true }),
      '2 failed (list cut): a.service, b.timer',
    );
    assert.equal(describeFailedUnits({ available: false, reason: 'x' }), 'failed units unknown - x');
  });
});

describe('failed units: read from a real process', () => {
  const stub = stubSystemctl(DEBIAN_FAILED);
  after(() => stub.remove());
  const hostHasSystemd = existsSync('/run/systemd/system');

  it('reads the listing through GuestExec with the exact argv', async () => {
    const transport = new LocalTransport(stub.path);
    const f = await readFailedUnits(new GuestExec(transport), { timeoutMs: 10_000 });
    assert.deepEqual(transport.calls, [failedUnitsCommand()]);
    assert.equal(f.available, true);
    assert.deepEqual(f.available ? f.units : [], parseFailedUnits(DEBIAN_FAILED));
  });

  it('says systemctl is not installed when the guest has none', async () => {
    const f = await readFailedUnits(new GuestExec(new LocalTransport('/nonexistent')));
    assert.equal(f.available, false);
    assert.match(
      f.available ? '' : f.reason,
      /^systemctl is not installed in the guest \(.*systemctl.*No such file or directory\)$/,
    );
  });

  it('answers with the real systemctl of this host', {
    skip: !existsSync('/usr/bin/systemctl') && !existsSync('/bin/systemctl'),
  }, async () => {
    const f = await readFailedUnits(new GuestExec(new LocalTransport()), { timeoutMs: 20_000 });
    if (hostHasSystemd) assert.equal(f.available, true);
    else
      assert.match(
        f.available ? 'available' : f.reason,
        /^systemd is not running in the guest \(System has not been booted with systemd/,
      );
  });

  it('passes on a timeout as the transport reports it (an exec that overran is not "no systemd")', async () => {
    const slow = stubSystemctl('', { hang: true });
    try {
      await assert.rejects(
        readFailedUnits(new GuestExec(new LocalTransport(slow.path)), { timeoutMs: 300 }),
        (e: Error & { code?: string }) => e.code === 'timeout',
      );
    } finally {
      slow.remove();
    }
  });
});
