import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScheduleDefInput, ScheduleStateInput } from '../../daemon/schedule/schema.js';
import { recordMissed } from '../../daemon/schedule/state.js';
import { MISSED_KEEP, type ScheduleState } from '../../daemon/schedule/types.js';
import { def } from './helpers.js';

test('a valid definition parses; enabled defaults to true; rollout passes through untouched', () => {
  const { enabled: _, ...rest } = def({ rollout: { batch: 2, nested: { x: [1] } } });
  const parsed = ScheduleDefInput.parse(rest);
  assert.equal(parsed.enabled, true);
  assert.deepEqual(parsed.rollout, { batch: 2, nested: { x: [1] } });
});

test('a bad cron, zone, window or unknown field is refused, the cron with its own message', () => {
  const cron = ScheduleDefInput.safeParse(def({ cron: '0 2 * * 6 *' }));
  assert.equal(cron.success, false);
  assert.match(cron.error?.issues[0]?.message ?? '', /a seconds field is not supported; example: '0 2 \* \* 6'/);
  assert.deepEqual(cron.error?.issues[0]?.path, ['cron']);
  assert.equal(ScheduleDefInput.safeParse(def({ tz: 'Mars/Olympus' })).success, false);
  assert.equal(ScheduleDefInput.safeParse(def({ window_minutes: 0 })).success, false);
  assert.equal(ScheduleDefInput.safeParse(def({ selector: [] })).success, false);
  assert.equal(ScheduleDefInput.safeParse({ ...def(), extra: 1 }).success, false);
});

test('state is read tolerantly: unknown fields ignored, missed defaulted', () => {
  assert.deepEqual(ScheduleStateInput.parse({ last_fired_at: '2026-01-01T03:00:00.000Z', future_field: 1 }), {
    last_fired_at: '2026-01-01T03:00:00.000Z',
    missed: [],
  });
});

test(`missed runs are bounded to the newest ${MISSED_KEEP}`, () => {
  const state: ScheduleState = { missed: [] };
  for (let i = 0; i < MISSED_KEEP + 5; i++) recordMissed(state, { at: `t${i}`, reason: 'r', count: 1 });
  assert.equal(state.missed.length, MISSED_KEEP);
  assert.equal(state.missed[0]?.at, 't5');
  assert.equal(state.missed.at(-1)?.at, `t${MISSED_KEEP + 4}`);
});
