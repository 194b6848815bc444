import { z } from 'zod';
import { PvepatchError } from '../core/errors.js';
import type { PackageException } from './types.js';

/** A package name as every family spells it, with `*` and `?` allowed for globs. */
const PACKAGE_PATTERN = /^[A-Za-z0-9*?][A-Za-z0-9+._@*?-]{0,127}$/;
/** PVE tags: lower-case letters, digits and `- _ + .` (pve-manager's tag format, case-folded). */
const TAG = /^[a-z0-9_][a-z0-9_+.-]{0,63}$/;
/** PVE pool ids: letters, digits, `- _ .`. */
const POOL = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** `<vmid>`, `tag:<tag>` or `pool:<pool>`; anything else is refused with the three forms named. */
export function parseTarget(target: string): { kind: 'guest'; vmid: number } | { kind: 'tag' | 'pool'; name: string } {
  if (/^[1-9][0-9]{2,8}$/.test(target)) return { kind: 'guest', vmid: Number(target) };
  if (target.startsWith('tag:') && TAG.test(target.slice(4))) return { kind: 'tag', name: target.slice(4) };
  if (target.startsWith('pool:') && POOL.test(target.slice(5))) return { kind: 'pool', name: target.slice(5) };
  throw new PvepatchError(
    'input-invalid',
    `invalid exception target '${target}' - use a vmid (100-999999999), tag:<tag> or pool:<pool>`,
  );
}

const Target = z
  .string()
  .max(80)
  .superRefine((v, ctx) => {
    try {
      parseTarget(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
const Package = z
  .string()
  .regex(PACKAGE_PATTERN, 'a package name or glob: letters, digits, + . _ @ - and the wildcards * ?');
/** Printable text, one line: it is shown in plans, logs and terminals. */
const Reason = z
  .string()
  .trim()
  .min(1, 'a reason is required')
  .max(500)
  .refine((s) => ![...s].some((c) => c < ' ' || c === '\x7f'), 'one line of printable text');
const Expiry = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO date or time, e.g. 2027-01-31 or 2027-01-31T18:00:00Z')
  .nullable();

export const CreateException = z.strictObject({
  target: Target,
  package: Package,
  reason: Reason,
  expires_at: Expiry.optional(),
  active: z.boolean().default(true),
});
export const UpdateException = z
  .strictObject({
    package: Package.optional(),
    reason: Reason.optional(),
    expires_at: Expiry.optional(),
    active: z.boolean().optional(),
  })
  .refine((u) => Object.keys(u).length > 0, 'nothing to change - give package, reason, expires_at or active');

export type CreateExceptionInput = z.input<typeof CreateException>;
export type UpdateExceptionInput = z.input<typeof UpdateException>;

/** An expiry must lie ahead when it is set (an exception that never applied helps nobody). */
export function normaliseExpiry(value: string | null | undefined, now: Date): string | null {
  if (value === undefined || value === null) return null;
  const t = Date.parse(value);
  if (t <= now.getTime())
    throw new PvepatchError('input-invalid', `invalid expires_at '${value}' - it is not in the future`);
  return new Date(t).toISOString();
}

export function stateOf(e: PackageException, now: Date): 'active' | 'inactive' | 'expired' {
  if (e.expires_at && Date.parse(e.expires_at) <= now.getTime()) return 'expired';
  return e.active ? 'active' : 'inactive';
}
