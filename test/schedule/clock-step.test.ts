import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ClockWatch } from '../../daemon/schedule/clock-watch.js';
import { Scheduler, type SchedulerOptions } from '../../daemon/schedule/scheduler.js';
import type { ScheduleDef } from '../../daemon/schedule/types.js';
import { FakeClock, HOUR, MINUTE } from './fake-clock.js';
import { assertNoJobsLeft, def, fires, recorder } from './helpers.js';

// Job due 03:00 UTC daily, window 60 min; the daemon starts at midnight.
const START = '2026-01-01T00:00:00Z';
const STEP = 2.5 * HOUR;

describe('wall-clock steps', () => {
  let clock: FakeClock | undefined;
  let scheduler: Scheduler | undefined;

  function run(defs: ScheduleDef[], options: SchedulerOptions = {}) {
    const c = FakeClock.install(START);
    clock = c;
    const rec = recorder(c);
    scheduler = new Scheduler(defs, rec.services, options);
    scheduler.start();
    return { c, ...rec };
  }

  beforeEach(() => {
    clock = undefined;
    scheduler = undefined;
  });

  afterEach(() => {
    scheduler?.stop();
    clock?.uninstall();
    assertNoJobsLeft();
  });

  test('node-schedule #632 reproduced: without re-arming, a +2.5 h step makes the 03:00 job wake at 05:30', () => {
    const { c, fired, missed, logs } = run([def()], { rearmOnClockStep: false });
    c.advance(10 * MINUTE);
    c.stepWall(STEP); // 00:10 -> 02:40
    c.advance(3 * HOUR + 20 * MINUTE); // wall 06:00
    assert.deepEqual(fired, [], 'nothing ran at 03:00');
    assert.deepEqual(
      missed.map((m) => m.reason),
      ['job woke at 2026-01-01T05:30:00.000Z, after its window closed at 2026-01-01T04:00:00.000Z'],
    );
    assert.ok(logs.includes('warn wall clock stepped +9000 s; not re-arming schedules (disabled)'));
  });

  test('the same bug with a long window: it runs, but 2.5 h late', () => {
    const { c, fired } = run([def({ window_minutes: 240 })], { rearmOnClockStep: false });
    c.advance(10 * MINUTE);
    c.stepWall(STEP);
    c.advance(3 * HOUR + 20 * MINUTE);
    assert.deepEqual(fires(fired), ['nightly 2026-01-01T03:00:00.000Z at 2026-01-01T05:30:00.000Z']);
    assert.equal(fired[0]?.late_by_ms, STEP);
  });

  test('with the ClockWatch, a +2.5 h step still fires once, at 03:00 wall time, and on time the next day', () => {
    const { c, fired, missed, logs } = run([def()]);
    c.advance(10 * MINUTE);
    c.stepWall(STEP); // 00:10 -> 02:40
    c.advance(3 * HOUR + 20 * MINUTE); // wall 06:00
    assert.deepEqual(fires(fired), ['nightly 2026-01-01T03:00:00.000Z at 2026-01-01T03:00:00.000Z']);
    assert.equal(fired[0]?.late_by_ms, 0);
    assert.ok(logs.includes('warn wall clock stepped +9000 s; re-arming 1 schedule(s)'));
    c.advance(24 * HOUR);
    assert.deepEqual(fires(fired).slice(1), ['nightly 2026-01-02T03:00:00.000Z at 2026-01-02T03:00:00.000Z']);
    assert.deepEqual(missed, []);
  });

  test('a step that jumps over the occurrence, still inside its window: fires once, as soon as the step is seen', () => {
    const { c, fired, missed } = run([def()]);
    c.advance(HOUR);
    c.stepWall(STEP); // 01:00 -> 03:30
    c.advance(2 * HOUR);
    // the watch compares the clocks every 30 s, so the step is seen (and the run starts) within 30 s
    assert.deepEqual(fires(fired), ['nightly 2026-01-01T03:00:00.000Z at 2026-01-01T03:30:30.000Z']);
    assert.equal(fired[0]?.late_by_ms, 30 * MINUTE + 30_000);
    c.advance(24 * HOUR);
    assert.equal(fired.length, 2);
    assert.equal(fired[1]?.at, '2026-01-02T03:00:00.000Z');
    assert.deepEqual(missed, []);
  });

  test('a step over the whole window: recorded missed, not run', () => {
    const { c, fired, missed } = run([def()]);
    c.advance(HOUR);
    c.stepWall(5 * HOUR); // 01:00 -> 06:00
    c.advance(HOUR);
    assert.deepEqual(fired, []);
    assert.deepEqual(missed, [
      {
        id: 'nightly',
        at: '2026-01-01T03:00:00.000Z',
        count: 1,
        reason: 'the wall clock stepped +18000 s past it (window closed at 2026-01-01T04:00:00.000Z)',
      },
    ]);
  });

  test('a backward step after a run does not run the same occurrence twice', () => {
    const { c, fired, logs } = run([def()]);
    c.advance(3 * HOUR + 10 * MINUTE); // ran at 03:00; now 03:10
    c.stepWall(-HOUR); // 03:10 -> 02:10: 03:00 comes round again
    c.advance(3 * HOUR);
    assert.deepEqual(fires(fired), ['nightly 2026-01-01T03:00:00.000Z at 2026-01-01T03:00:00.000Z']);
    assert.ok(logs.includes('warn wall clock stepped -3600 s; re-arming 1 schedule(s)'));
    assert.ok(
      logs.includes("info schedule 'nightly': occurrence 2026-01-01T03:00:00.000Z already handled, not run again"),
    );
    c.advance(24 * HOUR);
    assert.deepEqual(fires(fired).slice(1), ['nightly 2026-01-02T03:00:00.000Z at 2026-01-02T03:00:00.000Z']);
  });

  test('a backward step before the occurrence: it runs once, at 03:00 wall time', () => {
    const { c, fired } = run([def()]);
    c.advance(2 * HOUR); // 02:00
    c.stepWall(-HOUR); // -> 01:00
    c.advance(3 * HOUR);
    assert.deepEqual(fires(fired), ['nightly 2026-01-01T03:00:00.000Z at 2026-01-01T03:00:00.000Z']);
  });
});

describe('ClockWatch', () => {
  function watch(threshold = 60_000) {
    let wall = 1_000_000;
    let mono = 0;
    const steps: number[] = [];
    const w = new ClockWatch({ now: () => wall, monotonic: () => mono }, (s) => steps.push(s), {
      thresholdMs: threshold,
    });
    const pass = (ms: number, wallExtra = 0) => {
      mono += ms;
      wall += ms + wallExtra;
      return w.check();
    };
    return { w, steps, pass };
  }

  test('reports steps beyond the threshold in either direction, and only those', () => {
    const { w, steps, pass } = watch();
    w.start();
    try {
      assert.equal(pass(30_000), undefined);
      assert.equal(pass(30_000, 59_000), undefined, 'slew-sized drift is not a step');
      assert.equal(pass(30_000, STEP), STEP);
      assert.equal(pass(30_000, -HOUR), -HOUR);
      assert.equal(pass(10 * HOUR), undefined, 'a blocked event loop moves both clocks: not a step');
      assert.deepEqual(steps, [STEP, -HOUR]);
    } finally {
      w.stop();
    }
  });
});
