/**
 * node-schedule 2.1.1 pitfalls, verified against its source and in test/schedule/*.test.ts:
 * - Wall-clock steps (node-schedule #632, #542): each job waits in one `long-timeout` `setTimeout` for
 *   `fireDate - Date.now()` measured when it was armed. Timers run on the monotonic clock, so after a
 *   +2.5 h step the job fires 2.5 h late by the wall clock (reproduced: due 03:00, fired 05:30). Backward
 *   steps are fine on their own: `runOnDate` re-checks `Date.now()` when the timer ends and waits again.
 *   Remedy here: `ClockWatch` detects the step and we cancel and re-arm every job, plus a catch-up pass
 *   for an occurrence the step jumped over.
 * - An invalid cron string does not throw: `scheduleJob` returns null, and a string that `new Date()`
 *   accepts (`'2030'`) silently becomes a one-off job. So every rule is validated by `cron.ts` first and
 *   we check `Job.schedule()`'s boolean.
 * - `Job` is an EventEmitter and emits `'error'` when the callback throws or its promise rejects; with no
 *   listener that throws from a timer and kills the daemon. We attach one and never throw from callbacks.
 * - Nothing is persisted and there is no catch-up: occurrences missed while the process was down (or
 *   suspended) are simply skipped. `start()` and the re-arm pass do that from `ScheduleState`.
 * - A job fires its next occurrence even if the previous run is still going (no `protect`): overlapping
 *   runs are the caller's to refuse.
 * - `new Job(name)` puts the job in the module-global `scheduledJobs` under that name (last one wins);
 *   we never use that registry, only our own map.
 * - Without `tz` the rule runs in luxon's local zone; we always pass the zone explicitly, so the occurrences
 *   `cron.ts` shows and the ones the job fires at come from the same cron-parser call.
 */
import schedule from 'node-schedule';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { type Clock, ClockWatch, systemClock } from './clock-watch.js';
import { nodeTimeZone, occurrenceGap, validateCron } from './cron.js';
import { cloneState, emptyState, handledUpTo, recordFired, recordMissed } from './state.js';
import { type FireInfo, MISSED_COUNT_CAP, type MissedRun, type ScheduleDef, type ScheduleState } from './types.js';
import { windowEnd } from './window.js';

export { isInWindow, windowEnd } from './window.js';

export interface SchedulerServices {
  /**
   * Starts the run for an occurrence inside its window; the state already records it as fired. Called from
   * a node-schedule timer, and also synchronously from `start()` and `rearm()` for a catch-up. Must not
   * block; a throw or rejection is logged.
   */
  onFire(def: ScheduleDef, info: FireInfo): void | Promise<void>;
  /** An occurrence (or a gap of them) was not run; the state already holds it. */
  onMissed(def: ScheduleDef, missed: MissedRun): void;
  logger: Logger;
  clock?: Clock;
}

export interface SchedulerOptions {
  /** Re-arm every job when the wall clock steps (default true; false only to show node-schedule's bug). */
  rearmOnClockStep?: boolean;
  clockCheckMs?: number;
  clockStepThresholdMs?: number;
}

/** One node-schedule job per enabled schedule, with maintenance windows, catch-up and clock-step repair. */
export class Scheduler {
  readonly #defs: readonly ScheduleDef[];
  readonly #services: SchedulerServices;
  readonly #options: SchedulerOptions;
  readonly #clock: Clock;
  readonly #jobs = new Map<string, schedule.Job>();
  readonly #states = new Map<string, ScheduleState>();
  /** The enabled schedules with a valid rule, fixed at `start()`. */
  #active: ScheduleDef[] = [];
  #watch: ClockWatch | undefined;

  constructor(defs: readonly ScheduleDef[], services: SchedulerServices, options: SchedulerOptions = {}) {
    this.#defs = defs;
    this.#services = services;
    this.#options = options;
    this.#clock = services.clock ?? systemClock;
  }

  /** Arms the jobs, fires or records occurrences missed while stopped, and starts watching the clock. */
  start(states: Readonly<Record<string, ScheduleState>> = {}): void {
    if (this.#watch !== undefined) return;
    for (const def of this.#defs) this.#states.set(def.id, cloneState(states[def.id]));
    this.#active = this.#defs.filter((def) => def.enabled && this.#isValid(def));
    for (const def of this.#active) this.#arm(def);
    this.#catchUp('the daemon was not running');
    this.#watch = new ClockWatch(this.#clock, (step) => this.#onClockStep(step), {
      intervalMs: this.#options.clockCheckMs,
      thresholdMs: this.#options.clockStepThresholdMs,
    });
    this.#watch.start();
  }

  /** Cancels every job and the clock watch. Safe to call twice. */
  stop(): void {
    this.#watch?.stop();
    this.#watch = undefined;
    for (const job of this.#jobs.values()) job.cancel();
    this.#jobs.clear();
  }

  /**
   * Cancels and re-arms every job from the current wall clock, then fires or records what was skipped.
   * Does nothing unless started.
   */
  rearm(reason: string): void {
    if (this.#watch === undefined) return;
    for (const job of this.#jobs.values()) job.cancel();
    this.#jobs.clear();
    for (const def of this.#active) this.#arm(def);
    this.#catchUp(reason);
  }

  /** A copy of a schedule's state, for persisting. */
  state(id: string): ScheduleState | undefined {
    const state = this.#states.get(id);
    return state === undefined ? undefined : cloneState(state);
  }

  /** Copies of every schedule's state, by id, for persisting (e.g. at `stop()`). */
  states(): Record<string, ScheduleState> {
    return Object.fromEntries([...this.#states].map(([id, state]) => [id, cloneState(state)]));
  }

  /** When the job will fire next, as node-schedule has it armed. */
  nextRun(id: string): Date | undefined {
    const next = this.#jobs.get(id)?.nextInvocation();
    return next ? new Date(next.getTime()) : undefined;
  }

  #isValid(def: ScheduleDef): boolean {
    try {
      validateCron(def.cron, def.tz);
      return true;
    } catch (err) {
      this.#services.logger.error(`unable to arm schedule '${def.id}' - ${errorMessage(err)}`);
      return false;
    }
  }

  #arm(def: ScheduleDef): void {
    const job = new schedule.Job(`pvepatch-schedule:${def.id}`, (fireDate: Date) => this.#onJobFire(def, fireDate));
    job.on('error', (err: unknown) =>
      this.#services.logger.error(`schedule '${def.id}' job failed - ${errorMessage(err)}`),
    );
    if (!job.schedule({ rule: def.cron, tz: tzOf(def) })) {
      this.#services.logger.error(`unable to arm schedule '${def.id}' - node-schedule found no next occurrence`);
      return;
    }
    this.#jobs.set(def.id, job);
  }

  #onJobFire(def: ScheduleDef, scheduledFor: Date): void {
    const now = this.#clock.now();
    const state = this.#stateOf(def.id);
    if (scheduledFor.getTime() <= handledUpTo(def, state).getTime()) {
      this.#services.logger.info(
        `schedule '${def.id}': occurrence ${iso(scheduledFor)} already handled, not run again`,
      );
      return;
    }
    if (now < scheduledFor.getTime()) {
      // only after a backward step nobody re-armed yet; arming again waits for the right wall time
      this.#services.logger.warn(`schedule '${def.id}': woke before ${iso(scheduledFor)}; re-arming`);
      this.#jobs.get(def.id)?.cancel();
      this.#arm(def);
      return;
    }
    const end = windowEnd(def, scheduledFor);
    if (now >= end.getTime()) {
      const reason = `job woke at ${iso(new Date(now))}, after its window closed at ${iso(end)}`;
      this.#miss(def, { at: iso(scheduledFor), reason, count: 1 });
      return;
    }
    this.#fire(def, scheduledFor, now);
  }

  /** For each active schedule: the latest unhandled occurrence up to now runs if its window is open, else is missed. */
  #catchUp(reason: string): void {
    const now = new Date(this.#clock.now());
    for (const def of this.#active) {
      const state = this.#stateOf(def.id);
      const gap = occurrenceGap(def.cron, tzOf(def), handledUpTo(def, state), now, MISSED_COUNT_CAP);
      if (gap === undefined) continue;
      const end = windowEnd(def, gap.latest);
      if (now.getTime() < end.getTime()) {
        if (gap.previous !== undefined) this.#miss(def, missedRun(gap.previous, gap.count - 1, reason));
        this.#fire(def, gap.latest, now.getTime());
      } else {
        this.#miss(def, missedRun(gap.latest, gap.count, `${reason} (window closed at ${iso(end)})`));
      }
    }
  }

  #fire(def: ScheduleDef, scheduledFor: Date, now: number): void {
    const end = windowEnd(def, scheduledFor);
    recordFired(this.#stateOf(def.id), scheduledFor, end);
    const info: FireInfo = {
      scheduled_for: scheduledFor,
      window_end: end,
      late_by_ms: Math.max(0, now - scheduledFor.getTime()),
    };
    const failed = (err: unknown) =>
      this.#services.logger.error(`unable to start scheduled run '${def.id}' - ${errorMessage(err)}`);
    try {
      const result = this.#services.onFire(def, info);
      if (result instanceof Promise) result.catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  #miss(def: ScheduleDef, missed: MissedRun): void {
    recordMissed(this.#stateOf(def.id), missed);
    this.#services.logger.warn(
      `schedule '${def.id}': missed ${missed.count} run(s), last due ${missed.at} - ${missed.reason}`,
    );
    try {
      this.#services.onMissed(def, missed);
    } catch (err) {
      this.#services.logger.error(`unable to record missed run of '${def.id}' - ${errorMessage(err)}`);
    }
  }

  #onClockStep(stepMs: number): void {
    const shown = `${stepMs > 0 ? '+' : '-'}${Math.round(Math.abs(stepMs) / 1000)} s`;
    if (this.#options.rearmOnClockStep === false) {
      this.#services.logger.warn(`wall clock stepped ${shown}; not re-arming schedules (disabled)`);
      return;
    }
    this.#services.logger.warn(`wall clock stepped ${shown}; re-arming ${this.#jobs.size} schedule(s)`);
    this.rearm(`the wall clock stepped ${shown} past it`);
  }

  #stateOf(id: string): ScheduleState {
    let state = this.#states.get(id);
    if (state === undefined) {
      state = emptyState();
      this.#states.set(id, state);
    }
    return state;
  }
}

function tzOf(def: ScheduleDef): string {
  return def.tz ?? nodeTimeZone();
}

function iso(d: Date): string {
  return d.toISOString();
}

function missedRun(at: Date, count: number, reason: string): MissedRun {
  return { at: iso(at), reason, count: Math.max(1, count) };
}
