import cronParser from 'cron-parser';
import { PvepatchError } from '../core/errors.js';

/**
 * Cron expressions for schedules: exactly 5 fields (minute hour day-of-month month day-of-week), minute
 * precision. A 6th (seconds) field is refused on purpose: cron-parser would read `0 2 * * 6 *` as "second 0,
 * minute 2, every hour, in June", not as the Saturday 02:00 its author meant, and maintenance windows
 * need no seconds. Parsing and occurrences come from cron-parser, the very package node-schedule uses to
 * arm the job (`cronParser.parseExpression(rule, { tz })` in node-schedule's `Job.schedule`), so the
 * occurrences shown on creation are exactly the ones the job fires at. Field syntax is cron-parser 4's:
 * numbers, `*`, `,`, `-`, `/`, month and day names (`JAN`, `SAT`), `L` (last day of month), `#` (nth
 * weekday); no `W`.
 *
 * DST, as cron-parser 4.9 does it: a local time that does not exist (02:30 on the spring-forward day in
 * Europe/Berlin) runs once, shifted forward by the gap (03:30 local); a local time that happens twice
 * (fall-back) runs once, at its first occurrence.
 */
export const CRON_EXAMPLE = "'0 2 * * 6' = Saturdays 02:00";

const FIELD_NAMES = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;
const MAX_EXPRESSION_LENGTH = 200;

/** The node's own IANA time zone, the default for schedules without `tz`. */
export function nodeTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Throws `input-invalid` unless `tz` is an IANA zone this Node knows. */
export function validateTimeZone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new PvepatchError(
      'input-invalid',
      `unable to use time zone ${quote(tz)} - not an IANA zone (e.g. Europe/Berlin, UTC)`,
    );
  }
}

/**
 * Throws `input-invalid`, saying what is wrong and giving an example, unless `expr` is a 5-field cron
 * expression that node-schedule will run; also validates `tz` when given.
 */
export function validateCron(expr: string, tz?: string): void {
  if (tz !== undefined) validateTimeZone(tz);
  if (typeof expr !== 'string' || expr.length > MAX_EXPRESSION_LENGTH) {
    throw invalid(expr, `expected a string of at most ${MAX_EXPRESSION_LENGTH} characters`);
  }
  const fields = splitFields(expr);
  if (fields.length !== FIELD_NAMES.length) {
    const seconds = fields.length === 6 ? '; a seconds field is not supported' : '';
    throw invalid(expr, `expected 5 fields (${FIELD_NAMES.join(' ')}), got ${fields.length}${seconds}`);
  }
  for (const [i, field] of fields.entries()) {
    const bad = firstBadChar(field);
    if (bad !== undefined) throw invalid(expr, `${FIELD_NAMES[i]} field ${quote(field)} contains ${quote(bad)}`);
  }
  try {
    parse(expr, new Date(0), tz ?? 'UTC').next();
  } catch (err) {
    throw invalid(expr, err instanceof Error ? err.message : String(err));
  }
}

/** The next `count` occurrences strictly after `after`, in zone `tz` (default: the node's). */
export function nextOccurrences(expr: string, after: Date, count = 5, tz = nodeTimeZone()): Date[] {
  validateCron(expr, tz);
  const it = parse(expr, after, tz);
  const out: Date[] = [];
  for (let i = 0; i < count; i++) out.push(it.next().toDate());
  return out;
}

/** The occurrences in (after, upTo]: the latest one, the one before it (if also in range), and how many. */
export interface OccurrenceGap {
  latest: Date;
  previous: Date | undefined;
  /** Occurrences in the range, counted up to `cap` (cron-parser takes ~0.5 ms per step). */
  count: number;
}

/** The occurrences of `expr` in (after, upTo], or undefined when there are none. Assumes a valid `expr`. */
export function occurrenceGap(
  expr: string,
  tz: string,
  after: Date,
  upTo: Date,
  cap: number,
): OccurrenceGap | undefined {
  // cron-parser's prev() is strictly before its start and works in whole seconds: +1 ms makes upTo inclusive
  const back = parse(expr, new Date(upTo.getTime() + 1), tz);
  const latest = back.prev().toDate();
  if (latest.getTime() <= after.getTime()) return undefined;
  const before = back.prev().toDate();
  const previous = before.getTime() > after.getTime() ? before : undefined;
  let count = 0;
  const it = parse(expr, after, tz);
  while (count < cap && it.next().toDate().getTime() <= latest.getTime()) count++;
  return { latest, previous, count };
}

function parse(expr: string, currentDate: Date, tz: string) {
  return cronParser.parseExpression(expr, { currentDate, tz });
}

function splitFields(expr: string): string[] {
  return expr
    .trim()
    .split(' ')
    .flatMap((part) => part.split('\t'))
    .filter((f) => f !== '');
}

function firstBadChar(field: string): string | undefined {
  for (const ch of field) {
    const ok =
      (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || '*,-/#?'.includes(ch);
    if (!ok) return ch;
  }
  return undefined;
}

function invalid(expr: string, cause: string): PvepatchError {
  return new PvepatchError(
    'input-invalid',
    `unable to parse cron expression ${quote(expr)} - ${cause}; example: ${CRON_EXAMPLE}`,
  );
}

/** Quotes outside text for a message: JSON escaping keeps control characters out of logs, capped. */
function quote(text: unknown): string {
  const s = typeof text === 'string' ? text : String(text);
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}
