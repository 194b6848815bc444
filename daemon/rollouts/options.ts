import { z } from 'zod';
import type { RolloutOptions } from './types.js';

const Threshold = z.union([
  z.number().int().min(0).max(100_000),
  z
    .string()
    .regex(/^\d{1,3}%$/, "a count (2) or a percentage ('10%')")
    .refine((s) => Number(s.slice(0, -1)) <= 100, 'at most 100%'),
]);

/** How a rollout runs, as the API and a schedule in `apply` mode give it (the selector apart). */
export const RolloutPolicy = z.strictObject({
  canary: z.number().int().min(0).max(10_000).default(0),
  batch: z.number().int().min(1).max(10_000).default(1),
  max_failures: Threshold.default(0),
  tag_order: z.array(z.string().max(64)).max(100).default([]),
  exclude: z.array(z.string().max(200)).max(1000).default([]),
  security_only: z.boolean().default(false),
  reboot: z.enum(['never', 'if-required', 'always']).optional(),
  on_failure: z.enum(['keep', 'rollback']).optional(),
});

export const RolloutStart = RolloutPolicy.extend({
  selector: z.array(z.string().max(200)).min(1).max(1000),
  /** No group starts at or after this time (a maintenance window's end). */
  not_after: z
    .string()
    .max(40)
    .refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO time, e.g. 2027-01-31T06:00:00Z')
    .optional(),
  /** An approved saved plan: only its guests (of those the selector names), exactly its versions. */
  plan: z.string().max(80).optional(),
});

/** The rollout's options from a parsed policy and its selector. */
export function rolloutOptions(
  p: z.output<typeof RolloutPolicy>,
  selector: string[],
  notAfter?: Date,
  plan?: string,
): RolloutOptions {
  return {
    selector,
    canary: p.canary,
    batch: p.batch,
    max_failures:
      typeof p.max_failures === 'number' ? { count: p.max_failures } : { percent: Number(p.max_failures.slice(0, -1)) },
    tag_order: p.tag_order,
    exclude: p.exclude,
    security_only: p.security_only,
    ...(p.reboot ? { reboot: p.reboot } : {}),
    ...(p.on_failure ? { on_failure: p.on_failure } : {}),
    ...(notAfter ? { not_after: notAfter.toISOString() } : {}),
    ...(plan ? { plan } : {}),
  };
}
