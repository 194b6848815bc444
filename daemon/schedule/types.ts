/**
 * A schedule: when to run (a 5-field cron expression in a time zone), what (a target selector) and how
 * (`report` = plan and notify only; `apply` = a rollout with its policy), inside a maintenance window
 * that opens at each occurrence and lasts `window_minutes`.
 */
export interface ScheduleDef {
  id: string;
  /** 5 fields, minute precision (see `cron.ts`). */
  cron: string;
  /** IANA zone; absent = the node's own zone at the time the scheduler starts. */
  tz?: string;
  /** Target selector terms, as the rollout code understands them; compared normalized (see `overlap.ts`). */
  selector: string[];
  mode: ScheduleMode;
  window_minutes: number;
  enabled: boolean;
  created_by: string;
  /** ISO 8601. Occurrences before this are never reported missed. */
  created_at: string;
  /** Rollout policy for `apply`, passed through untouched. */
  rollout?: Record<string, unknown>;
  require_approval?: boolean;
}

export type ScheduleMode = 'report' | 'apply';

/** One missed occurrence: the most recent one of a gap, and how many occurrences that gap held. */
export interface MissedRun {
  /** ISO 8601: the occurrence's scheduled time. */
  at: string;
  reason: string;
  /** Occurrences missed in this gap (≥ 1), capped at `MISSED_COUNT_CAP`. */
  count: number;
}

/**
 * What the scheduler remembers per schedule; the owner persists it after every `onFire`/`onMissed`.
 * `last_fired_at` is the *scheduled* time of the last occurrence fired (not the wall time the callback
 * ran): an occurrence at or before it is never fired again, which is what stops a backward clock step
 * from firing it twice.
 */
export interface ScheduleState {
  last_fired_at?: string;
  /** ISO 8601: the end of the window of the last occurrence fired. */
  last_window_end?: string;
  /** Newest last, at most `MISSED_KEEP` entries. */
  missed: MissedRun[];
}

export const MISSED_KEEP = 20;
export const MISSED_COUNT_CAP = 100;

/** What `onFire` is told about the occurrence it runs. */
export interface FireInfo {
  scheduled_for: Date;
  window_end: Date;
  /** How long after `scheduled_for` the callback ran (0 when on time; > 0 for a catch-up). */
  late_by_ms: number;
}
