import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { nextOccurrences } from '../../daemon/schedule/cron.js';
import { isInWindow, Scheduler, windowEnd } from '../../daemon/schedule/scheduler.js';
import type { ScheduleDef, ScheduleState } from '../../daemon/schedule/types.js';
import { FakeClock, HOUR, MINUTE } from './fake-clock.js';
import { assertNoJobsLeft, def, fires, recorder } from './helpers.js';

let clock: FakeClock;
let scheduler: Scheduler | undefined;

function run(defs: ScheduleDef[], startIso: string, states: Record<string, ScheduleState> = {}) {
  clock = FakeClock.install(startIso);
  const rec = recorder(clock);
  scheduler = new Scheduler(defs, rec.services);
  scheduler.start(states);
  return rec;
}

describe('Scheduler', () => {
  beforeEach(() => {
    scheduler = undefined;
  });

  afterEach(() => {
    scheduler?.stop();
    clock?.uninstall();
    // every job cancelled: node-schedule's global registry is empty again
    assertNoJobsLeft();
  });

  test('fires inside its window, at the scheduled wall time, once a day', () => {
    const rec = run([def()], '2026-01-01T00:00:00Z');
    assert.deepEqual(rec.logs, []);
    assert.equal(scheduler?.nextRun('nightly')?.toISOString(), '2026-01-01T03:00:00.000Z');
    clock.advance(3 * HOUR - 1000);
    assert.equal(rec.fired.length, 0);
    clock.advance(1000);
    assert.deepEqual(fires(rec.fired), ['nightly 2026-01-01T03:00:00.000Z at 2026-01-01T03:00:00.000Z']);
    const [first] = rec.fired;
    assert.equal(first?.window_end.toISOString(), '2026-01-01T04:00:00.000Z');
    assert.equal(first?.late_by_ms, 0);
    clock.advance(24 * HOUR);
    assert.equal(rec.fired.length, 2);
    assert.equal(rec.fired[1]?.at, '2026-01-02T03:00:00.000Z');
    assert.deepEqual(rec.missed, []);
    assert.deepEqual(scheduler?.state('nightly'), {
      last_fired_at: '2026-01-02T03:00:00.000Z',
      last_window_end: '2026-01-02T04:00:00.000Z',
      missed: [],
    });
  });

  test('windowEnd / isInWindow: [scheduled_for, scheduled_for + window) for the rollout to stop at', () => {
    const d = def({ window_minutes: 90 });
    const at = new Date('2026-01-01T03:00:00Z');
    assert.equal(windowEnd(d, at).toISOString(), '2026-01-01T04:30:00.000Z');
    assert.equal(isInWindow(d, at, new Date('2026-01-01T02:59:59.999Z')), false);
    assert.equal(isInWindow(d, at, at), true);
    assert.equal(isInWindow(d, at, new Date('2026-01-01T04:29:59.999Z')), true);
    assert.equal(isInWindow(d, at, new Date('2026-01-01T04:30:00Z')), false);
  });

  test('a job that wakes after its window closed (process stopped) records a miss and does not fire', () => {
    const rec = run([def()], '2026-01-01T02:00:00Z');
    clock.freeze(3 * HOUR); // SIGSTOP-like: nothing runs until 05:00, then the overdue timer runs
    assert.deepEqual(rec.fired, []);
    assert.deepEqual(rec.missed, [
      {
        id: 'nightly',
        at: '2026-01-01T03:00:00.000Z',
        count: 1,
        reason: 'job woke at 2026-01-01T05:00:00.000Z, after its window closed at 2026-01-01T04:00:00.000Z',
      },
    ]);
    clock.advance(22 * HOUR); // the next day is normal again
    assert.deepEqual(fires(rec.fired), ['nightly 2026-01-02T03:00:00.000Z at 2026-01-02T03:00:00.000Z']);
  });

  test('start after downtime: an occurrence whose window is still open runs once, at once (catch-up)', () => {
    const states = { nightly: { last_fired_at: '2025-12-31T03:00:00.000Z', missed: [] } };
    const rec = run([def()], '2026-01-01T03:20:00Z', states);
    assert.deepEqual(fires(rec.fired), ['nightly 2026-01-01T03:00:00.000Z at 2026-01-01T03:20:00.000Z']);
    assert.equal(rec.fired[0]?.late_by_ms, 20 * MINUTE);
    clock.advance(23 * HOUR);
    assert.equal(rec.fired.length, 1, 'no second run of the caught-up occurrence');
    clock.advance(HOUR);
    assert.equal(rec.fired[1]?.at, '2026-01-02T03:00:00.000Z');
    assert.deepEqual(rec.missed, []);
  });

  test('start after downtime: a closed window is recorded missed (latest + count), not run', () => {
    const states = { nightly: { last_fired_at: '2025-12-29T03:00:00.000Z', missed: [] } };
    const rec = run([def({ created_at: '2025-12-01T00:00:00.000Z' })], '2026-01-01T05:00:00Z', states);
    assert.deepEqual(rec.fired, []);
    assert.deepEqual(rec.missed, [
      {
        id: 'nightly',
        at: '2026-01-01T03:00:00.000Z',
        count: 3,
        reason: 'the daemon was not running (window closed at 2026-01-01T04:00:00.000Z)',
      },
    ]);
    assert.deepEqual(
      scheduler?.state('nightly')?.missed.map((m) => m.at),
      ['2026-01-01T03:00:00.000Z'],
    );
  });

  test('catch-up with earlier closed windows: runs the latest, records the rest missed', () => {
    const states = { nightly: { last_fired_at: '2025-12-29T03:00:00.000Z', missed: [] } };
    const rec = run([def({ created_at: '2025-12-01T00:00:00.000Z' })], '2026-01-01T03:05:00Z', states);
    assert.deepEqual(fires(rec.fired), ['nightly 2026-01-01T03:00:00.000Z at 2026-01-01T03:05:00.000Z']);
    assert.deepEqual(
      rec.missed.map((m) => [m.at, m.count]),
      [['2025-12-31T03:00:00.000Z', 2]],
    );
  });

  test('a restart after a run neither re-runs it nor calls it missed', () => {
    const states = { nightly: { last_fired_at: '2026-01-01T03:00:00.000Z', missed: [] } };
    const rec = run([def()], '2026-01-01T03:20:00Z', states);
    clock.advance(HOUR);
    assert.deepEqual(rec.fired, []);
    assert.deepEqual(rec.missed, []);
  });

  test('a missed record is not recorded again at the next start', () => {
    const states = {
      nightly: {
        last_fired_at: '2025-12-30T03:00:00.000Z',
        missed: [{ at: '2025-12-31T03:00:00.000Z', reason: 'earlier', count: 1 }],
      },
    };
    const rec = run([def()], '2025-12-31T12:00:00Z', states);
    assert.deepEqual(rec.missed, []);
    assert.deepEqual(rec.fired, []);
  });

  test('occurrences before the schedule was created are not missed', () => {
    const rec = run([def({ created_at: '2026-01-01T03:30:00.000Z' })], '2026-01-01T03:40:00Z');
    assert.deepEqual(rec.fired, []);
    assert.deepEqual(rec.missed, []);
  });

  test('disabled schedules are not armed; an invalid one is logged and the others still run', () => {
    const defs = [
      def({ id: 'off', enabled: false }),
      def({ id: 'bad', cron: '2030' }),
      def({ id: 'good', cron: '0 1 * * *' }),
    ];
    const rec = run(defs, '2026-01-01T00:00:00Z');
    assert.equal(scheduler?.nextRun('off'), undefined);
    assert.equal(scheduler?.nextRun('bad'), undefined);
    assert.deepEqual(
      rec.logs.filter((l) => l.startsWith('error')),
      [
        `error unable to arm schedule 'bad' - unable to parse cron expression "2030" - expected 5 fields (minute hour day-of-month month day-of-week), got 1; example: '0 2 * * 6' = Saturdays 02:00`,
      ],
    );
    clock.advance(4 * HOUR);
    assert.deepEqual(fires(rec.fired), ['good 2026-01-01T01:00:00.000Z at 2026-01-01T01:00:00.000Z']);
  });

  test('a throwing or rejecting onFire is logged and does not stop later runs', async () => {
    clock = FakeClock.install('2026-01-01T00:00:00Z');
    const rec = recorder(clock);
    let calls = 0;
    scheduler = new Scheduler([def()], {
      ...rec.services,
      onFire: () => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return Promise.reject(new Error('async boom'));
      },
    });
    scheduler.start();
    clock.advance(27 * HOUR);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls, 2);
    assert.ok(rec.logs.includes("error unable to start scheduled run 'nightly' - boom"));
    assert.ok(rec.logs.includes("error unable to start scheduled run 'nightly' - async boom"));
  });

  test('the occurrences shown on creation are the ones the job fires at, across Berlin spring-forward', () => {
    const d = def({ cron: '30 2 * * *', tz: 'Europe/Berlin', window_minutes: 30 });
    const start = '2026-03-26T23:00:00Z';
    const shown = nextOccurrences(d.cron, new Date(start), 5, 'Europe/Berlin').map((x) => x.toISOString());
    const rec = run([d], start);
    clock.advance(5 * 24 * HOUR);
    assert.deepEqual(
      rec.fired.map((f) => f.at),
      shown,
    );
    assert.equal(shown[2], '2026-03-29T01:30:00.000Z');
  });
});
