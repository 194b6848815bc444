import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withNextSchedule } from '../../daemon/api/next-schedule.js';
import type { FleetRow } from '../../daemon/engine/fleet.js';
import type { ScheduleView } from '../../daemon/schedule/service.js';

const row = (vmid: number, extra: Partial<FleetRow> = {}) =>
  ({ vmid, node: 'pve1', tags: [], pool: null, ...extra }) as unknown as FleetRow;
const schedule = (id: string, selector: string[], next: string[], extra: Partial<ScheduleView> = {}) =>
  ({ id, selector, next, enabled: true, mode: 'apply', ...extra }) as unknown as ScheduleView;

describe('fleet rows with their next schedule', () => {
  it('picks, per guest, the enabled schedule that selects it soonest', () => {
    const rows = [row(101, { tags: ['web'] }), row(102, { pool: 'db' }), row(103), row(104, { tags: ['web'] })];
    const out = withNextSchedule(rows, [
      schedule('web-nightly', ['tag:web', '-104'], ['2027-01-02T03:00:00.000Z']),
      schedule('db-weekly', ['pool:db'], ['2027-01-05T02:00:00.000Z'], { mode: 'report' }),
      schedule('all-soon', ['all'], ['2027-01-01T01:00:00.000Z'], { enabled: false }),
      schedule('101-early', ['101'], ['2027-01-01T22:00:00.000Z']),
      schedule('never', ['999'], []),
    ]);
    assert.deepEqual(
      out.map((r) => [r.vmid, r.next_schedule]),
      [
        [101, { id: '101-early', mode: 'apply', at: '2027-01-01T22:00:00.000Z' }],
        [102, { id: 'db-weekly', mode: 'report', at: '2027-01-05T02:00:00.000Z' }],
        [103, null],
        [104, null],
      ],
    );
  });

  it('a schedule naming a guest that is gone still applies to the others', () => {
    const out = withNextSchedule([row(101)], [schedule('s', ['101', '500'], ['2027-01-01T00:00:00.000Z'])]);
    assert.equal(out[0]!.next_schedule?.id, 's');
  });
});
