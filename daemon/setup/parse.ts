/**
 * Parsers for what pveum, proxmox-backup-manager and dpkg-query print. Only the fields used are
 * declared; unknown fields are ignored; anything else is an `output-invalid` error that names the
 * command, never the text (it may hold a secret).
 */
import { z } from 'zod';
import { PvepatchError } from '../core/errors.js';

const MAX_CHARS = 4 * 1024 * 1024;
const flag = z.union([z.number(), z.string(), z.boolean()]).transform((v) => v === true || String(v) === '1');

const PveRole = z.object({ roleid: z.string(), privs: z.string().optional().default('') });
const PveUser = z.object({ userid: z.string() });
const PveToken = z.object({ tokenid: z.string(), privsep: flag.optional() });
const PveAcl = z.object({
  path: z.string(),
  type: z.string(),
  ugid: z.string(),
  roleid: z.string(),
  propagate: flag.optional(),
});
const PveTokenAdd = z.object({ 'full-tokenid': z.string(), value: z.string() });

const PbsUser = z.object({ userid: z.string() });
const PbsToken = z.object({ tokenid: z.string() });
const PbsAcl = z.object({ path: z.string(), ugid: z.string(), roleid: z.string(), propagate: flag.optional() });
const PbsTokenAdd = z.object({ tokenid: z.string(), value: z.string() });

export type PveRoleRow = z.infer<typeof PveRole>;
export type PveTokenRow = z.infer<typeof PveToken>;
export type PveAclRow = z.infer<typeof PveAcl>;
export type PbsAclRow = z.infer<typeof PbsAcl>;

function json(text: string, what: string, from: 'start' | 'first-brace' = 'start'): unknown {
  if (text.length > MAX_CHARS) throw invalid(what, 'the output is too large');
  const at = from === 'first-brace' ? text.indexOf('{') : 0;
  try {
    return JSON.parse(text.slice(Math.max(at, 0)));
  } catch {
    throw invalid(what, 'the output is not JSON');
  }
}

function invalid(what: string, why: string): PvepatchError {
  return new PvepatchError('output-invalid', `unable to read the answer of '${what}' - ${why}`);
}

function parseWith<T extends z.ZodTypeAny>(schema: T, text: string, what: string): z.infer<T> {
  const r = schema.safeParse(json(text, what));
  if (!r.success) throw invalid(what, 'it does not have the expected shape');
  return r.data;
}

/** `pveum role list --output-format json`: privileges as a comma-separated string. */
export function pveRoles(text: string): PveRoleRow[] {
  return parseWith(z.array(PveRole), text, 'pveum role list');
}

/** The privileges of a role as `pveum role list` prints them (comma- or space-separated). */
export function privList(privs: string): string[] {
  return privs
    .split(/[\s,;]+/)
    .filter(Boolean)
    .sort();
}

export function pveUsers(text: string): string[] {
  return parseWith(z.array(PveUser), text, 'pveum user list').map((u) => u.userid);
}

/** `pveum user token list <user>`: `tokenid` is the token's name, without `user@realm!`. */
export function pveTokens(text: string): PveTokenRow[] {
  return parseWith(z.array(PveToken), text, 'pveum user token list');
}

export function pveAcls(text: string): PveAclRow[] {
  return parseWith(z.array(PveAcl), text, 'pveum acl list');
}

/** `pveum user token add … --output-format json`: the secret is `value`, shown only this once. */
export function pveTokenSecret(text: string): { id: string; secret: string } {
  const r = parseWith(PveTokenAdd, text, 'pveum user token add');
  return { id: r['full-tokenid'], secret: r.value };
}

export function pbsUsers(text: string): string[] {
  return parseWith(z.array(PbsUser), text, 'proxmox-backup-manager user list').map((u) => u.userid);
}

/** `user list-tokens`: `tokenid` is the full `user@realm!name`. */
export function pbsTokens(text: string): string[] {
  return parseWith(z.array(PbsToken), text, 'proxmox-backup-manager user list-tokens').map((t) => t.tokenid);
}

export function pbsAcls(text: string): PbsAclRow[] {
  return parseWith(z.array(PbsAcl), text, 'proxmox-backup-manager acl list');
}

/** `user generate-token` prints `Result: {…}` (or the bare JSON): read from the first `{`. */
export function pbsTokenSecret(text: string): { id: string; secret: string } {
  const what = 'proxmox-backup-manager user generate-token';
  const r = PbsTokenAdd.safeParse(json(text, what, 'first-brace'));
  if (!r.success) throw invalid(what, 'it does not have the expected shape');
  return { id: r.data.tokenid, secret: r.data.value };
}

/** The version of an installed package from `dpkg-query -W -f='${db:Status-Status} ${Version}'`. */
export function installedVersion(text: string): string | undefined {
  const m = /^installed (\S{1,100})$/.exec(text.trim());
  return m?.[1];
}

/** The major version of `9.0.6` / `8.4.1`, or undefined. */
export function majorOf(version: string): number | undefined {
  const m = /^(\d{1,3})\./.exec(version);
  return m ? Number(m[1]) : undefined;
}
