import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Rollout } from '../../daemon/rollouts/types.js';
import type { ScheduleView } from '../../daemon/schedule/service.js';
import { type Env, startEnv } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOUR = 3600_000;

/**
 * Schedules in the daemon against real containers: created with their next occurrences, fired by
 * node-schedule in their window, a run missed while the daemon was down recorded (window closed) or
 * started once (window open), and a rollout that starts no group past its window's end.
 */
describe('schedules and maintenance windows', () => {
  let env: Env;
  const startedAt = new Date();
  // the hour's first minute: the catch-up below needs the last hourly occurrence's window open
  const lastHour = new Date(Math.floor(startedAt.getTime() / HOUR) * HOUR);
  before(async () => {
    env = await startEnv({
      guests: [{ vmid: 191 }, { vmid: 192 }, { vmid: 193 }],
      beforeDaemon: async ({ stateDir }) => {
        mkdirSync(stateDir, { recursive: true, mode: 0o700 });
        // two schedules made three hours ago, as a daemon that was down since would have left them
        const made = new Date(startedAt.getTime() - 3 * HOUR).toISOString();
        const base = { selector: [] as string[], created_by: 'root@pam', created_at: made, enabled: true };
        writeFileSync(
          join(stateDir, 'schedules.json'),
          JSON.stringify({
            version: 1,
            // hourly with a 1-minute window: the runs of the last hours were missed
            schedules: [
              { ...base, id: 'hourly-short', cron: '0 * * * *', selector: ['193'], mode: 'report', window_minutes: 1 },
              // hourly with a 3-hour window: this hour's is still open, so it runs once at start
              {
                ...base,
                id: 'hourly-open',
                cron: '0 * * * *',
                selector: ['192'],
                mode: 'apply',
                window_minutes: 180,
                rollout: { canary: 0, batch: 1, max_failures: 0, tag_order: [], exclude: [], security_only: false },
              },
            ],
            states: {},
            reports: {},
            rollouts: {},
          }),
          { mode: 0o600 },
        );
      },
    });
  });
  after(() => env?.close());

  const json = async <T>(...argv: string[]): Promise<T> => {
    const r = await env.cli('--output-format', 'json', ...argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
    return JSON.parse(r.out) as T;
  };

  it('records the runs missed while the daemon was down whose window had closed', async () => {
    const s = await json<ScheduleView>('schedule', 'show', 'hourly-short');
    const closed = startedAt.getTime() - lastHour.getTime() >= 60_000;
    const last = s.state.missed.at(-1);
    assert.ok(last, JSON.stringify(s.state));
    assert.equal(last.reason.includes('the daemon was not running'), true, last.reason);
    assert.equal(Date.parse(last.at), closed ? lastHour.getTime() : lastHour.getTime() - HOUR);
    assert.ok(s.state.missed.reduce((a, m) => a + m.count, 0) >= 2, 'the earlier hours too');
    // started in an hour's first minute, this hour's window is still open: that one runs, the rest were missed
    if (closed) assert.equal(s.state.last_fired_at, undefined, 'nothing ran');
    else assert.equal(s.state.last_fired_at, lastHour.toISOString());
  });

  it('starts a run missed while down once when its window is still open, as a rollout ending with the window', async () => {
    let s = await json<ScheduleView>('schedule', 'show', 'hourly-open');
    assert.equal(s.state.last_fired_at, lastHour.toISOString());
    // it fired at start; the rollout is made once the guest list is read
    for (let i = 0; i < 100 && s.rollouts.length === 0; i++) {
      await sleep(100);
      s = await json<ScheduleView>('schedule', 'show', 'hourly-open');
    }
    assert.equal(s.rollouts.length, 1, 'exactly one rollout');
    let ro = await json<Rollout>('rollout', 'show', s.rollouts[0]!);
    assert.equal(ro.options.not_after, new Date(lastHour.getTime() + 3 * HOUR).toISOString());
    assert.equal(ro.created_by, 'root@pam');
    for (let i = 0; i < 300 && ro.state === 'running'; i++) {
      await sleep(200);
      ro = await json<Rollout>('rollout', 'show', ro.id);
    }
    assert.equal(ro.state, 'completed');
    assert.equal(await env.lab.dpkgVersion(192, 'demo-app'), '1.1');
  });

  it('shows the next five occurrences on creation, refuses a second schedule for the same guests and a bad cron', async () => {
    const s = await json<ScheduleView>(
      'schedule',
      'add',
      'nightly',
      '191',
      '--cron',
      '30 2 * * *',
      '--tz',
      'UTC',
      '--window',
      '60',
    );
    assert.equal(s.next.length, 5);
    for (const [i, t] of s.next.entries()) {
      assert.match(t, /T02:30:00\.000Z$/);
      if (i > 0) assert.equal(Date.parse(t) - Date.parse(s.next[i - 1]!), 24 * HOUR);
    }
    const twice = await env.cli('schedule', 'add', 'again', '191', '--cron', '0 3 * * *', '--window', '30');
    assert.equal(twice.code, 3);
    assert.match(twice.err, /schedule 'nightly' already targets 191/);
    for (const [cron, why] of [
      ['0 2 * *', /5 fields/],
      ['61 2 * * *', /got value 61 expected range 0-59/],
      ['0 2 * * 6 *', /5 fields/],
    ] as const) {
      const r = await env.cli('schedule', 'add', 'bad', '193', '--cron', cron, '--window', '30');
      assert.equal(r.code, 3, `${cron}: ${r.err}`);
      assert.match(r.err, why);
    }
    await json('schedule', 'rm', 'nightly');
  });

  it('fires a report schedule at its next minute, inside its window', async () => {
    await json('schedule', 'add', 'every-minute', '191', '--cron', '* * * * *', '--window', '5');
    let s = await json<ScheduleView>('schedule', 'show', 'every-minute');
    const due = Date.parse(s.next[0]!);
    for (let i = 0; i < 400 && !s.last_report; i++) {
      await sleep(250);
      s = await json<ScheduleView>('schedule', 'show', 'every-minute');
    }
    assert.ok(s.last_report, 'fired within its minute');
    assert.equal(s.state.last_fired_at, new Date(due).toISOString());
    assert.deepEqual([s.last_report.guests, s.last_report.with_updates, s.last_report.updates], [1, 1, 5]);
    await json('schedule', 'set', 'every-minute', '--disable');
    const audit = await json<{ action: string; outcome: string }[]>('audit', '--action', 'schedule.*');
    assert.deepEqual(audit.map((a) => a.action).reverse(), [
      'schedule.create',
      'schedule.create',
      'schedule.create',
      'schedule.create',
      'schedule.create',
      'schedule.delete',
      'schedule.create',
      'schedule.update',
    ]);
  });

  it('starts no group after the window has ended, and says so', async () => {
    await env.lab.writeGuestFile(191, '/etc/demo-hook', '#!/bin/sh\nsleep 4\n', 0o755);
    const until = new Date(Date.now() + 2000).toISOString();
    const r = await env.cli('rollout', 'start', '191', '193', '--batch', '1', '--until', until);
    assert.equal(r.code, 5, `${r.out}\n${r.err}`);
    const id = /rollout (rollout-\S+): paused/.exec(r.out)?.[1];
    assert.ok(id, r.out);
    const ro = await json<Rollout>('rollout', 'show', id);
    assert.equal(ro.state, 'paused');
    assert.equal(
      ro.note,
      `the maintenance window ended at ${until}; 1 guest(s) not started ('pvepatch rollout resume ${id}' goes on outside the window)`,
    );
    assert.equal(await env.lab.dpkgVersion(191, 'demo-app'), '1.1');
    assert.equal(await env.lab.dpkgVersion(193, 'demo-app'), '1.0', 'not started after the window');
  });
});
