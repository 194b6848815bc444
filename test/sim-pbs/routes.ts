/**
 * The endpoints the simulator answers, as PBS's router and handlers do (proxmox-backup
 * `src/api2/version.rs`, `src/api2/node/tasks.rs`; proxmox-rest-server `rest.rs`, `formatter.rs`).
 */
import { listSnapshots } from './snapshots.js';
import type { PbsSnapshot, PbsTask } from './types.js';

export interface Answer {
  status: number;
  /** Success: the JSON envelope. Errors: PBS sends the bare message text (still as application/json). */
  body: string;
}

export interface RouteState {
  version: { version: string; release: string; repoid: string };
  running: readonly PbsTask[];
  finished: readonly PbsTask[];
  snapshots: readonly PbsSnapshot[];
  /** Datastores that exist. */
  stores: Set<string>;
}

const NODE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const LIST_PARAMS = new Set([
  'start',
  'limit',
  'errors',
  'running',
  'userfilter',
  'since',
  'until',
  'typefilter',
  'statusfilter',
  'store',
]);

export const ok = (data: unknown, extra: Record<string, unknown> = {}): Answer => ({
  status: 200,
  body: JSON.stringify({ data, ...extra }),
});
export const error = (status: number, message: string): Answer => ({ status, body: message });

/** null when no route matches (the caller answers 404 after auth, as PBS does). */
export function route(
  method: string,
  parts: readonly string[],
  query: Record<string, string>,
  s: RouteState,
): Answer | null {
  if (method !== 'GET') return null;
  if (parts.length === 1 && parts[0] === 'version') return noParams(query) ?? ok(s.version);
  if (parts.length === 4 && parts[0] === 'admin' && parts[1] === 'datastore' && parts[3] === 'snapshots') {
    return listSnapshots(parts[2] ?? '', query, s);
  }
  if (parts.length < 3 || parts[0] !== 'nodes' || parts[2] !== 'tasks' || !NODE.test(parts[1] ?? '')) return null;
  if (parts.length === 3) return listTasks(query, s);
  if (parts.length === 5 && parts[4] === 'status') return taskStatus(parts[3] ?? '', query, s);
  return null;
}

function noParams(query: Record<string, string>): Answer | null {
  const extra = Object.keys(query)[0];
  return extra === undefined ? null : paramError(extra, 'schema does not allow additional properties.');
}

export function paramError(name: string, why: string): Answer {
  return error(400, `parameter verification failed - '${name}': ${why}`);
}

function listTasks(query: Record<string, string>, s: RouteState): Answer {
  for (const key of Object.keys(query)) {
    if (!LIST_PARAMS.has(key)) return paramError(key, 'schema does not allow additional properties.');
  }
  const start = integer(query, 'start', 0);
  const limit = integer(query, 'limit', 50);
  const running = boolean(query, 'running');
  const errors = boolean(query, 'errors');
  if ('status' in start) return start;
  if ('status' in limit) return limit;
  if ('status' in running) return running;
  if ('status' in errors) return errors;
  const all = [...s.running, ...(running.value ? [] : s.finished)].filter(
    (t) =>
      (!errors.value || (t.status !== undefined && t.status !== 'OK')) &&
      (query.typefilter === undefined || t.worker_type.includes(query.typefilter)) &&
      (query.userfilter === undefined || t.user.includes(query.userfilter)),
  );
  const max = limit.value > 0 ? limit.value : Number.POSITIVE_INFINITY;
  const page = all.slice(start.value, start.value + max);
  const total = page.length + start.value + (page.length > 0 && page.length >= max ? 1 : 0);
  return ok(page, { total });
}

function taskStatus(upid: string, query: Record<string, string>, s: RouteState): Answer {
  const extra = noParams(query);
  if (extra) return extra;
  if (!upid.startsWith('UPID:') || upid.split(':').length !== 10) {
    return paramError('upid', 'value does not match the regex pattern');
  }
  const [, node = '', pid = '0', pstart = '0', , starttime = '0', type = '', id = '', user = ''] = upid.split(':');
  const base = {
    upid,
    node,
    pid: Number.parseInt(pid, 16),
    pstart: Number.parseInt(pstart, 16),
    starttime: Number.parseInt(starttime, 16),
    type,
    ...(id === '' ? {} : { id: unescapeId(id) }),
    user: user.split('!')[0],
    ...(user.includes('!') ? { tokenid: user.split('!')[1] } : {}),
  };
  const task = [...s.running, ...s.finished].find((t) => t.upid === upid);
  if (task && s.running.includes(task)) return ok({ ...base, status: 'running' });
  return ok({ ...base, status: 'stopped', exitstatus: task?.status ?? 'unknown' });
}

/** proxmox-schema `unescape_id`: `-` is `/`, `\xNN` a byte. */
function unescapeId(id: string): string {
  return id.replace(/\\x([0-9a-f]{2})|-/g, (m, hex: string | undefined) =>
    hex ? String.fromCharCode(Number.parseInt(hex, 16)) : m === '-' ? '/' : m,
  );
}

type Parsed<T> = { value: T } | Answer;

function integer(query: Record<string, string>, name: string, dflt: number): Parsed<number> {
  const raw = query[name];
  if (raw === undefined) return { value: dflt };
  if (!/^[+-]?\d{1,15}$/.test(raw)) return paramError(name, 'invalid digit found in string');
  const value = Number(raw);
  if (value < 0) return paramError(name, `value must have a minimum value of 0 (got ${value})`);
  return { value };
}

function boolean(query: Record<string, string>, name: string): Parsed<boolean> {
  const raw = query[name]?.toLowerCase();
  if (raw === undefined) return { value: false };
  if (['1', 'on', 'yes', 'true'].includes(raw)) return { value: true };
  if (['0', 'off', 'no', 'false'].includes(raw)) return { value: false };
  return paramError(name, 'Unable to parse boolean option.');
}
