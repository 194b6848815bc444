import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import schedule from 'node-schedule';
import type { Logger } from '../../daemon/core/logger.js';
import type { SchedulerServices } from '../../daemon/schedule/scheduler.js';
import type { FireInfo, MissedRun, ScheduleDef } from '../../daemon/schedule/types.js';
import type { FakeClock } from './fake-clock.js';

export function def(overrides: Partial<ScheduleDef> = {}): ScheduleDef {
  return {
    id: 'nightly',
    cron: '0 3 * * *',
    tz: 'UTC',
    selector: ['tag:web'],
    mode: 'apply',
    window_minutes: 60,
    enabled: true,
    created_by: 'root@pam',
    created_at: '2025-12-31T12:00:00.000Z',
    ...overrides,
  };
}

export interface Fired extends FireInfo {
  id: string;
  /** Wall time the callback ran. */
  at: string;
}

/** Services that record every fire, miss and log line, reading time from `clock`. */
export function recorder(clock: FakeClock) {
  const fired: Fired[] = [];
  const missed: (MissedRun & { id: string })[] = [];
  const logs: string[] = [];
  const logger: Logger = {
    info: (m) => logs.push(`info ${m}`),
    warn: (m) => logs.push(`warn ${m}`),
    error: (m) => logs.push(`error ${m}`),
  };
  const services: SchedulerServices = {
    clock,
    logger,
    onFire: (d, info) => {
      fired.push({ id: d.id, at: clock.iso(), ...info });
    },
    onMissed: (d, m) => {
      missed.push({ id: d.id, ...m });
    },
  };
  return { fired, missed, logs, services };
}

/** `scheduled_for → fired at (late)` lines, for compact assertions. */
export function fires(fired: readonly Fired[]): string[] {
  return fired.map((f) => `${f.id} ${f.scheduled_for.toISOString()} at ${f.at}`);
}

/** node-schedule's module-global queue of armed invocations (each holds one timer while first in line). */
const pending: unknown[] = createRequire(import.meta.url)('node-schedule/lib/Invocation.js')._invocations;

/** After `stop()`: no job registered and no invocation (hence no timer) left in node-schedule. */
export function assertNoJobsLeft(): void {
  assert.deepEqual(Object.keys(schedule.scheduledJobs), []);
  assert.equal(pending.length, 0);
}
