/**
 * The keys of each section type in notifications.conf: the ChannelConfig field each sets, how its
 * value is parsed, and what is allowed (quoted in errors). Names follow Proxmox's notifications.cfg
 * where one exists (mailto, server, port, mode, username, disable, comment).
 */
import { parseBoundedInt, shown } from '../policy/checks.js';
import { normaliseFingerprint } from '../proxmox/tls.js';
import { NOTIFY_EVENTS, type NotifyEvent, SEVERITIES } from './types.js';

export type SectionType = 'proxmox' | 'sendmail' | 'webhook' | 'smtp';
export const SECTION_TYPES: readonly SectionType[] = ['proxmox', 'sendmail', 'webhook', 'smtp'];

export interface KeySpec {
  /** The ChannelConfig field; undefined: accepted and ignored (comment). */
  field: string | undefined;
  allowed: string;
  /** The value, or a string saying what is wrong with it. */
  parse(value: string): { value: unknown } | string;
}

const EMAIL = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}$/;
const LOCAL_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const HOST = /^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$/;

const ok = (value: unknown) => ({ value });

function oneOf(allowed: readonly string[]): KeySpec['parse'] {
  return (v) => (allowed.includes(v) ? ok(v) : `'${shown(v)}' is not one of ${allowed.join(', ')}`);
}

function list(v: string): string[] {
  return v
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function events(v: string): { value: unknown } | string {
  const names = list(v);
  const bad = names.find((n) => !(NOTIFY_EVENTS as readonly string[]).includes(n));
  if (bad !== undefined) return `unknown event '${shown(bad)}'`;
  return names.length > 0 ? ok([...new Set(names)] as NotifyEvent[]) : 'no event named';
}

function addresses(allowLocal: boolean): KeySpec['parse'] {
  return (v) => {
    const all = list(v);
    const bad = all.find((a) => !EMAIL.test(a) && !(allowLocal && LOCAL_USER.test(a)));
    if (bad !== undefined) return `'${shown(bad)}' is not a mail address`;
    return all.length > 0 && all.length <= 50 ? ok(all) : 'give 1 to 50 addresses';
  };
}

function address(v: string): { value: unknown } | string {
  return EMAIL.test(v) ? ok(v) : `'${shown(v)}' is not a mail address`;
}

function absolutePath(v: string): { value: unknown } | string {
  return v.startsWith('/') && !v.includes('\0') ? ok(v) : `'${shown(v)}' is not an absolute path`;
}

function url(v: string): { value: unknown } | string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return `'${shown(v)}' is not a URL`;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return `scheme '${shown(u.protocol)}' is not http: or https:`;
  if (u.username || u.password) return 'credentials in the URL would show in logs; put them in secret-file';
  if (u.hash) return 'a URL with a #fragment';
  return ok(v);
}

function seconds(v: string): { value: unknown } | string {
  const n = parseBoundedInt(v, 1, 300);
  return n === undefined ? `'${shown(v)}' is not a number of seconds from 1 to 300` : ok(n * 1000);
}

function port(v: string): { value: unknown } | string {
  const n = parseBoundedInt(v, 1, 65535);
  return n === undefined ? `'${shown(v)}' is not a port` : ok(n);
}

function fingerprint(v: string): { value: unknown } | string {
  try {
    return ok(normaliseFingerprint(v));
  } catch {
    return `'${shown(v)}' is not a SHA-256 fingerprint`;
  }
}

const COMMON: Record<string, KeySpec> = {
  events: { field: 'events', allowed: `a comma-separated list of ${NOTIFY_EVENTS.join(', ')}`, parse: events },
  'min-severity': { field: 'min_severity', allowed: SEVERITIES.join(', '), parse: oneOf(SEVERITIES) },
  disable: {
    field: 'disabled',
    allowed: '0 or 1',
    parse: (v) => (v === '1' || v === '0' ? ok(v === '1') : 'not 0 or 1'),
  },
  comment: { field: undefined, allowed: 'any text', parse: ok },
};

const MAIL_FROM: KeySpec = { field: 'from', allowed: 'a mail address', parse: address };
const CA_FILE: KeySpec = { field: 'ca_file', allowed: 'an absolute path to a PEM file', parse: absolutePath };
const TIMEOUT: KeySpec = { field: 'timeout_ms', allowed: 'seconds, 1-300', parse: seconds };

export const SECTION_KEYS: Record<SectionType, Record<string, KeySpec>> = {
  proxmox: COMMON,
  sendmail: {
    ...COMMON,
    mailto: { field: 'mailto', allowed: 'mail addresses or local users', parse: addresses(true) },
    from: MAIL_FROM,
  },
  webhook: {
    ...COMMON,
    url: { field: 'url', allowed: 'an http(s) URL', parse: url },
    preset: { field: 'preset', allowed: 'generic, ntfy, gotify', parse: oneOf(['generic', 'ntfy', 'gotify']) },
    'secret-file': { field: 'secret_file', allowed: 'an absolute path', parse: absolutePath },
    'ca-file': CA_FILE,
    fingerprint: { field: 'fingerprint', allowed: '64 hex digits (SHA-256)', parse: fingerprint },
    timeout: TIMEOUT,
  },
  smtp: {
    ...COMMON,
    server: { field: 'server', allowed: 'a host name or address', parse: (v) => (HOST.test(v) ? ok(v) : 'not a host') },
    port: { field: 'port', allowed: '1-65535', parse: port },
    mode: { field: 'mode', allowed: 'tls, starttls, insecure', parse: oneOf(['tls', 'starttls', 'insecure']) },
    from: MAIL_FROM,
    mailto: { field: 'mailto', allowed: 'mail addresses', parse: addresses(false) },
    username: { field: 'username', allowed: 'a user name', parse: (v) => (v.length <= 256 ? ok(v) : 'too long') },
    'password-file': { field: 'password_file', allowed: 'an absolute path', parse: absolutePath },
    'ca-file': CA_FILE,
    timeout: TIMEOUT,
  },
};

export const REQUIRED_KEYS: Record<SectionType, readonly string[]> = {
  proxmox: [],
  sendmail: [],
  webhook: ['url'],
  smtp: ['server', 'from', 'mailto'],
};

/** Problems between keys of one finished section (field names as in ChannelConfig). */
export function sectionProblem(type: SectionType, s: Record<string, unknown>): string | undefined {
  if (type === 'webhook') {
    if (s.fingerprint && s.ca_file) return 'set either ca-file or fingerprint, not both';
    if ((s.fingerprint || s.ca_file) && String(s.url).startsWith('http:'))
      return 'ca-file and fingerprint need an https URL';
    if (s.preset === 'gotify' && !s.secret_file) return 'preset gotify needs secret-file (the application token)';
  }
  if (type === 'smtp') {
    if (!s.username !== !s.password_file) return 'set both username and password-file, or neither';
    if (s.username && s.mode === 'insecure')
      return 'a login without TLS would send the password in clear; use mode tls or starttls';
  }
  return undefined;
}
