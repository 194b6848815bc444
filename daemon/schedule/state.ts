import { MISSED_KEEP, type MissedRun, type ScheduleDef, type ScheduleState } from './types.js';

/** A fresh state for a schedule that has never fired. */
export function emptyState(): ScheduleState {
  return { missed: [] };
}

/**
 * The newest occurrence already dealt with (fired or recorded missed), or the schedule's creation: any
 * occurrence at or before it is never fired or recorded again.
 */
export function handledUpTo(def: ScheduleDef, state: ScheduleState): Date {
  const times = [def.created_at, state.last_fired_at, state.missed.at(-1)?.at]
    .filter((t): t is string => t !== undefined)
    .map((t) => Date.parse(t))
    .filter((t) => Number.isFinite(t));
  return new Date(times.length === 0 ? 0 : Math.max(...times));
}

export function recordFired(state: ScheduleState, scheduledFor: Date, windowEnd: Date): void {
  state.last_fired_at = scheduledFor.toISOString();
  state.last_window_end = windowEnd.toISOString();
}

export function recordMissed(state: ScheduleState, missed: MissedRun): void {
  state.missed.push(missed);
  if (state.missed.length > MISSED_KEEP) state.missed.splice(0, state.missed.length - MISSED_KEEP);
}

export function cloneState(state: ScheduleState | undefined): ScheduleState {
  if (state === undefined) return emptyState();
  return { ...state, missed: state.missed.map((m) => ({ ...m })) };
}
