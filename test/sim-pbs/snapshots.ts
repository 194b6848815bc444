/**
 * `GET /admin/datastore/<store>/snapshots` as proxmox-backup `src/api2/admin/datastore.rs`
 * `list_snapshots` answers it: the parameters `ns`, `backup-type`, `backup-id` (anything else is a
 * 400), each `SnapshotListItem` with `backup-type`, `backup-id`, `backup-time`, `files`, `owner`,
 * `protected`, and `size`/`verification` when known. The order is the datastore's, not by time.
 */
import { type Answer, error, ok, paramError, type RouteState } from './routes.js';
import type { PbsSnapshot } from './types.js';
import { escapeWorkerId } from './upid.js';

const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const PARAMS = new Set(['ns', 'backup-type', 'backup-id']);
const OWNER = 'root@pam';

export function listSnapshots(store: string, query: Record<string, string>, s: RouteState): Answer {
  for (const key of Object.keys(query)) {
    if (!PARAMS.has(key)) return paramError(key, 'schema does not allow additional properties.');
  }
  if (!SAFE_ID.test(store) || store.length < 3 || store.length > 32) {
    return paramError('store', 'value does not match the regex pattern');
  }
  const type = query['backup-type'];
  if (type !== undefined && !['vm', 'ct', 'host'].includes(type)) {
    return paramError('backup-type', `value '${type}' is not defined in the enumeration.`);
  }
  const id = query['backup-id'];
  if (id !== undefined && !SAFE_ID.test(id)) return paramError('backup-id', 'value does not match the regex pattern');
  const ns = query.ns ?? '';
  if (ns !== '' && !ns.split('/').every((p) => SAFE_ID.test(p))) {
    return paramError('ns', 'value does not match the regex pattern');
  }
  if (!s.stores.has(store)) return error(400, `no such datastore '${store}'`);
  const items = s.snapshots
    .filter(
      (x) =>
        x.store === store &&
        (x.ns ?? '') === ns &&
        (type === undefined || x.type === type) &&
        (id === undefined || x.id === id),
    )
    .map(item);
  return ok(items);
}

function item(x: PbsSnapshot): Record<string, unknown> {
  const when = new Date(x.time * 1000).toISOString().replace('.000Z', 'Z');
  return {
    'backup-type': x.type,
    'backup-id': x.id,
    'backup-time': x.time,
    files: ['index.json.blob', x.type === 'vm' ? 'drive-scsi0.img.fidx' : 'root.pxar.didx'],
    owner: OWNER,
    protected: x.protected ?? false,
    ...(x.size === undefined ? {} : { size: x.size }),
    ...(x.verification === undefined ? {} : { verification: { state: x.verification, upid: verifyUpid(x, when) } }),
  };
}

function verifyUpid(x: PbsSnapshot, when: string): string {
  const start = (x.time + 600).toString(16).toUpperCase().padStart(8, '0');
  return `UPID:pbs:00000F00:00001000:00000000:${start}:verify_snapshot:${escapeWorkerId(`${x.store}:${x.type}/${x.id}/${when}`)}:${OWNER}:`;
}
