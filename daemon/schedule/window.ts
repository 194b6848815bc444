import type { ScheduleDef } from './types.js';

/** The end of the maintenance window opened by the occurrence at `scheduledFor` (exclusive). */
export function windowEnd(def: Pick<ScheduleDef, 'window_minutes'>, scheduledFor: Date): Date {
  return new Date(scheduledFor.getTime() + def.window_minutes * 60_000);
}

/**
 * Whether `at` lies in the window [scheduledFor, scheduledFor + window_minutes). The rollout code asks this
 * before starting each guest and stops starting new ones once it is false.
 */
export function isInWindow(def: Pick<ScheduleDef, 'window_minutes'>, scheduledFor: Date, at: Date): boolean {
  const t = at.getTime();
  return t >= scheduledFor.getTime() && t < windowEnd(def, scheduledFor).getTime();
}
