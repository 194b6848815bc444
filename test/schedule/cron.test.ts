import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { isPvepatchError } from '../../daemon/core/errors.js';
import { nextOccurrences, nodeTimeZone, occurrenceGap, validateCron } from '../../daemon/schedule/cron.js';

const isoList = (dates: Date[]) => dates.map((d) => d.toISOString());

function berlin(d: Date): string {
  return d.toLocaleString('sv-SE', { timeZone: 'Europe/Berlin', timeZoneName: 'short' });
}

function rejects(expr: string, ...fragments: string[]): void {
  assert.throws(
    () => validateCron(expr),
    (err) => {
      assert.ok(isPvepatchError(err));
      assert.equal(err.code, 'input-invalid');
      for (const f of ['unable to parse cron expression', "example: '0 2 * * 6' = Saturdays 02:00", ...fragments]) {
        assert.ok(err.message.includes(f), `${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
      }
      return true;
    },
  );
}

describe('cron validation', () => {
  test('accepts 5-field expressions, names, L and #', () => {
    for (const ok of ['0 2 * * 6', '0 2 * * SAT', '*/15 1-4 * * 1,3', '0 0 L * *', '0 2 * * 6#2', ' 0\t2 * * 6 ']) {
      assert.doesNotThrow(() => validateCron(ok, 'UTC'), ok);
    }
  });

  test('refuses garbage with what is wrong and an example', () => {
    rejects('5', 'expected 5 fields', 'got 1');
    rejects('* * * *', 'got 4');
    rejects('', 'got 0');
    rejects('2030', 'got 1'); // node-schedule would have made this a one-off job on 2030-01-01
    rejects('0 2 * * 6 *', 'got 6', 'a seconds field is not supported');
    rejects('61 * * * *', 'got value 61 expected range 0-59');
    rejects('0 0 31 2 *', 'Invalid explicit day of month');
    rejects('*/0 * * * *', 'cannot repeat at every 0 time');
    rejects('0 2 * * FOO', 'cannot resolve alias');
    rejects('0 2 * * 6;reboot', 'day-of-week field "6;reboot" contains ";"');
    rejects('0 2\n1 * * 6', 'hour field "2\\n1" contains "\\n"');
    rejects('* '.repeat(150), 'at most 200 characters');
  });

  test('refuses an unknown time zone', () => {
    assert.throws(
      () => validateCron('0 2 * * 6', 'Mars/Olympus'),
      /unable to use time zone "Mars\/Olympus" - not an IANA zone/,
    );
  });
});

describe('next occurrences', () => {
  test('next five, strictly after the given time', () => {
    const after = new Date('2026-01-03T02:00:00Z'); // a Saturday, exactly on an occurrence
    assert.deepEqual(isoList(nextOccurrences('0 2 * * 6', after, 5, 'UTC')), [
      '2026-01-10T02:00:00.000Z',
      '2026-01-17T02:00:00.000Z',
      '2026-01-24T02:00:00.000Z',
      '2026-01-31T02:00:00.000Z',
      '2026-02-07T02:00:00.000Z',
    ]);
  });

  test("the zone defaults to the node's", () => {
    const after = new Date('2026-06-01T00:00:00Z');
    assert.deepEqual(nextOccurrences('30 4 * * *', after), nextOccurrences('30 4 * * *', after, 5, nodeTimeZone()));
  });

  test('Europe/Berlin spring-forward: 02:30 does not exist on 2026-03-29 and runs once, at 03:30 CEST', () => {
    const got = nextOccurrences('30 2 * * *', new Date('2026-03-26T23:00:00Z'), 5, 'Europe/Berlin');
    assert.deepEqual(got.map(berlin), [
      '2026-03-27 2:30:00 CET',
      '2026-03-28 2:30:00 CET',
      '2026-03-29 3:30:00 CEST',
      '2026-03-30 2:30:00 CEST',
      '2026-03-31 2:30:00 CEST',
    ]);
    assert.deepEqual(isoList(got).slice(2, 4), ['2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
  });

  test('Europe/Berlin fall-back: 02:30 happens twice on 2026-10-25 and runs once, the first time', () => {
    const got = nextOccurrences('30 2 * * *', new Date('2026-10-23T22:00:00Z'), 4, 'Europe/Berlin');
    assert.deepEqual(got.map(berlin), [
      '2026-10-24 2:30:00 CEST',
      '2026-10-25 2:30:00 CEST',
      '2026-10-26 2:30:00 CET',
      '2026-10-27 2:30:00 CET',
    ]);
  });

  test('occurrenceGap: latest, previous and count in (after, upTo]; upTo is inclusive', () => {
    const gap = occurrenceGap(
      '0 3 * * *',
      'UTC',
      new Date('2026-01-01T03:00:00Z'),
      new Date('2026-01-04T03:00:00Z'),
      100,
    );
    assert.deepEqual(gap && { ...gap, latest: gap.latest.toISOString(), previous: gap.previous?.toISOString() }, {
      latest: '2026-01-04T03:00:00.000Z',
      previous: '2026-01-03T03:00:00.000Z',
      count: 3,
    });
    assert.equal(
      occurrenceGap('0 3 * * *', 'UTC', new Date('2026-01-04T03:00:00Z'), new Date('2026-01-05T02:59:59Z'), 100),
      undefined,
    );
    assert.equal(
      occurrenceGap('* * * * *', 'UTC', new Date('2026-01-01T00:00:00Z'), new Date('2026-02-01T00:00:00Z'), 100)?.count,
      100,
    );
  });

  test('we parse with the very cron-parser copy node-schedule uses', () => {
    const require = createRequire(import.meta.url);
    const fromNodeSchedule = createRequire(require.resolve('node-schedule')).resolve('cron-parser');
    assert.equal(require.resolve('cron-parser'), fromNodeSchedule);
  });
});
