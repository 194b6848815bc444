import { z } from 'zod';
import { validateCron } from './cron.js';
import type { ScheduleDef, ScheduleState } from './types.js';

/**
 * zod schemas for the wiring: `ScheduleDefInput` for API bodies and the stored schedule list (the cron
 * expression is checked with `validateCron` in its zone, so a schedule that parses is one that arms), and
 * `ScheduleStateInput` for the state file, read tolerantly (unknown fields ignored, `missed` defaulted).
 */
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_WINDOW_MINUTES = 7 * 24 * 60;

const IsoTime = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 time, e.g. 2026-01-31T02:00:00Z');

export const ScheduleDefInput = z
  .strictObject({
    id: z.string().regex(ID, 'letters, digits, _ . - (at most 64, starting with a letter or digit)'),
    cron: z.string().max(200),
    tz: z.string().max(64).optional(),
    selector: z.array(z.string().min(1).max(200)).min(1).max(50),
    mode: z.enum(['report', 'apply']),
    window_minutes: z.number().int().min(1).max(MAX_WINDOW_MINUTES),
    enabled: z.boolean().default(true),
    created_by: z.string().min(1).max(200),
    created_at: IsoTime,
    rollout: z.record(z.string(), z.unknown()).optional(),
    require_approval: z.boolean().optional(),
  })
  .superRefine((def, ctx) => {
    try {
      validateCron(def.cron, def.tz);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['cron'], message: (err as Error).message });
    }
  }) satisfies z.ZodType<ScheduleDef, unknown>;

export const ScheduleStateInput = z.object({
  last_fired_at: IsoTime.optional(),
  last_window_end: IsoTime.optional(),
  missed: z.array(z.object({ at: IsoTime, reason: z.string().max(1000), count: z.number().int().min(1) })).default([]),
}) satisfies z.ZodType<ScheduleState, unknown>;
