/**
 * The keys of a policy section: for each, the field it sets, its zod schema and the sentence
 * that says what is allowed (shown in every error about it). `check` is the one repeatable key and
 * is parsed in checks.ts.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseBoundedInt } from './checks.js';
import type { PolicySettings, ScalarField } from './types.js';

export interface KeySpec {
  field: ScalarField;
  schema: z.ZodType<unknown>;
  allowed: string;
}

/** PVE's pve-storage-id. */
const STORAGE_ID = /^[a-z][a-z0-9._-]*[a-z0-9]$/;
const SSH_USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
/** OpenSSH's SHA256 fingerprint: 32 bytes in unpadded base64 (43 characters). */
const SSH_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

const choice = <T extends string>(...values: [T, ...T[]]) => z.enum(values);
const int = (min: number, max: number) =>
  z.string().transform((text, ctx) => {
    const n = parseBoundedInt(text, min, max);
    if (n === undefined) ctx.addIssue({ code: 'custom', message: 'out of range' });
    return n ?? 0;
  });

/** An IPv4 or IPv6 address (no zone) or a DNS host name (RFC 1123 labels). */
export function isValidAddress(text: string): boolean {
  if (text.includes('%')) return false;
  if (isIP(text) !== 0) return true;
  if (text.length === 0 || text.length > 253) return false;
  return text.split('.').every(isHostLabel);
}

function isHostLabel(label: string): boolean {
  if (label.length === 0 || label.length > 63) return false;
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (!alnum && (c !== 45 || i === 0 || i === label.length - 1)) return false;
  }
  return true;
}

/** An absolute path without control characters or spaces, at most 4096 long. */
function isAbsolutePath(text: string): boolean {
  if (!text.startsWith('/') || text.length > 4096) return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) <= 0x20 || text.charCodeAt(i) === 0x7f) return false;
  return true;
}

export const KEYS: Readonly<Record<string, KeySpec>> = {
  transport: { field: 'transport', schema: choice('pct', 'qga', 'ssh'), allowed: 'pct, qga, ssh' },
  reboot: { field: 'reboot', schema: choice('never', 'if-required', 'always'), allowed: 'never, if-required, always' },
  'on-failure': { field: 'onFailure', schema: choice('keep', 'rollback'), allowed: 'keep, rollback' },
  fallback: { field: 'fallback', schema: choice('skip', 'vzdump', 'backup'), allowed: 'skip, vzdump, backup' },
  'fallback-storage': {
    field: 'fallbackStorage',
    schema: z.string().max(128).regex(STORAGE_ID),
    allowed: 'a storage id (a-z first, then a-z 0-9 . _ -, not ending in . _ -)',
  },
  'backup-max-age': { field: 'backupMaxAge', schema: int(1, 720), allowed: 'hours, 1-720' },
  'reboot-timeout': { field: 'rebootTimeout', schema: int(10, 86_400), allowed: 'seconds, 10-86400' },
  'check-timeout': { field: 'checkTimeout', schema: int(1, 3600), allowed: 'seconds, 1-3600' },
  address: {
    field: 'address',
    schema: z.string().refine(isValidAddress),
    allowed: 'an IPv4 address, an IPv6 address or a host name',
  },
  'ssh-user': { field: 'sshUser', schema: z.string().regex(SSH_USER), allowed: 'a user name (A-Z a-z 0-9 _ . -)' },
  'ssh-port': { field: 'sshPort', schema: int(1, 65_535), allowed: 'a port, 1-65535' },
  'ssh-key': { field: 'sshKey', schema: z.string().refine(isAbsolutePath), allowed: 'an absolute path' },
  'ssh-fingerprint': {
    field: 'sshFingerprint',
    schema: z.string().regex(SSH_FINGERPRINT),
    allowed: "SHA256:<43 base64 characters>, as 'ssh-keygen -lf' prints it",
  },
  role: { field: 'role', schema: choice('none', 'pbs'), allowed: 'none, pbs' },
  'pbs-min-free-gb': { field: 'pbsMinFreeGb', schema: int(0, 1_000_000), allowed: 'whole GB, 0-1000000' },
};

export const KEY_NAMES = [...Object.keys(KEYS), 'check'];

/** The config-file name of a field (`onFailure` → `on-failure`). */
export function keyName(field: ScalarField): string {
  for (const [name, spec] of Object.entries(KEYS)) if (spec.field === field) return name;
  return field;
}

/** Sets one field; the value has passed the key's schema, which gives it the field's type. */
export function setField(settings: PolicySettings, field: ScalarField, value: unknown): void {
  (settings as Record<ScalarField, unknown>)[field] = value;
}
