/**
 * The PBS API calls: the running tasks for the precheck (`GET /api2/json/nodes/localhost/tasks
 * ?running=1`) and a guest's backup snapshots for `fallback backup`. Auth is an API token, `Authorization: PBSAPIToken=<user@realm!name>:<secret>` (PBS
 * separates the secret with `:`, where PVE uses `=`). TLS is pinned to the certificate's SHA-256
 * fingerprint through the same dispatcher as the PVE client (proxmox/tls.ts); nothing global changes.
 */
import { fetch as undiciFetch } from 'undici';
import { z } from 'zod';
import { errorMessage, PvepatchError, UnreachableError } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import { createDispatcher } from '../proxmox/tls.js';
import {
  MAX_SNAPSHOT_JSON_CHARS,
  MAX_TASK_JSON_CHARS,
  type PbsSnapshotItem,
  type PbsTaskItem,
  snapshotItems,
  taskItems,
} from './parse.js';

export interface PbsApiOptions {
  /** `https://HOST[:PORT]`; the port defaults to PBS's 8007. */
  url: string;
  /** `user@realm!tokenname` */
  tokenId: string;
  secret: string;
  /** SHA-256 fingerprint of the PBS certificate (`proxmox-backup-manager cert info`). */
  fingerprint: string;
  timeoutMs?: number;
}

const TOKEN_ID = /^[^\s:/@!]+@[A-Za-z0-9_][A-Za-z0-9._-]*![A-Za-z0-9_][A-Za-z0-9._-]*$/;
const envelope = z.object({ data: z.unknown() });

/** The tasks PBS reports as running; throws PvepatchError (auth-failed, tls-failed, unreachable, …). */
export async function pbsRunningTasks(api: PbsApiOptions): Promise<PbsTaskItem[]> {
  const url = apiUrl(api.url, '/api2/json/nodes/localhost/tasks');
  url.searchParams.set('running', '1');
  url.searchParams.set('limit', '100');
  const data = await getJson(api, url);
  const tasks = taskItems(data);
  if (!tasks) throw invalid(url, 'its task list does not have the expected shape');
  return tasks;
}

/** Which backup group to list: `ct`/`vm` and the vmid, in a datastore (and namespace; '' is the root). */
export interface PbsGroup {
  store: string;
  ns: string;
  type: 'ct' | 'vm';
  id: string;
}

/**
 * The group's backup snapshots (`GET /api2/json/admin/datastore/{store}/snapshots?backup-type&
 * backup-id[&ns]`); the token needs Datastore.Audit (or to own the group). Throws as pbsRunningTasks.
 */
export async function pbsSnapshots(api: PbsApiOptions, group: PbsGroup): Promise<PbsSnapshotItem[]> {
  const url = apiUrl(api.url, `/api2/json/admin/datastore/${encodeURIComponent(group.store)}/snapshots`);
  url.searchParams.set('backup-type', group.type);
  url.searchParams.set('backup-id', group.id);
  if (group.ns !== '') url.searchParams.set('ns', group.ns);
  const items = snapshotItems(await getJson(api, url, MAX_SNAPSHOT_JSON_CHARS));
  if (!items) throw invalid(url, 'its snapshot list does not have the expected shape');
  return items;
}

async function getJson(api: PbsApiOptions, url: URL, maxChars = MAX_TASK_JSON_CHARS): Promise<unknown> {
  if (!TOKEN_ID.test(api.tokenId)) {
    throw new PvepatchError(
      'config-invalid',
      `invalid PBS token id '${escapeControls(api.tokenId)}' - expected user@realm!tokenname`,
    );
  }
  if (!/^[!-~]+$/.test(api.secret)) {
    throw new PvepatchError(
      'config-invalid',
      'invalid PBS token secret - it is empty or holds spaces, controls or non-ASCII characters',
    );
  }
  const timeoutMs = api.timeoutMs ?? 15_000;
  const dispatcher = createDispatcher({ fingerprint: api.fingerprint }, timeoutMs);
  const where = `${url.origin}${url.pathname}`;
  try {
    let res: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      res = await undiciFetch(url, {
        dispatcher,
        headers: {
          Authorization: `PBSAPIToken=${api.tokenId}:${encodeURIComponent(api.secret)}`,
          Accept: 'application/json',
        },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw reachError(err, where);
    }
    const body = await readCapped(res.body, maxChars);
    if (res.status === 401) {
      throw new PvepatchError(
        'auth-failed',
        `unable to query PBS API ${where} - authentication failed (401); check the PBS token id and secret`,
      );
    }
    if (res.status !== 200) {
      const said = escapeControls((body ?? '').slice(0, 300)).trim() || res.statusText;
      throw new PvepatchError('proxmox-error', `unable to query PBS API ${where} - ${res.status} ${said}`);
    }
    if (body === null) throw invalid(url, `its answer is larger than ${maxChars} bytes`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw invalid(url, 'its answer is not JSON');
    }
    const env = envelope.safeParse(parsed);
    if (!env.success) throw invalid(url, 'its answer has no data');
    return env.data.data;
  } finally {
    await dispatcher.close();
  }
}

function apiUrl(base: string, path: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new PvepatchError('config-invalid', `invalid PBS URL '${escapeControls(base)}' - expected https://HOST:8007`);
  }
  if (url.protocol !== 'https:') {
    throw new PvepatchError('config-invalid', `invalid PBS URL '${escapeControls(base)}' - only https is supported`);
  }
  if (!url.port && !/^https:\/\/[^/]*:443(\/|$)/.test(base)) url.port = '8007';
  return new URL(path, url.origin);
}

/** The body as text, or null once it passes max bytes (the rest is not read). */
async function readCapped(body: AsyncIterable<Uint8Array> | null, max: number): Promise<string | null> {
  if (!body) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > max) return null;
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function invalid(url: URL, why: string): PvepatchError {
  return new PvepatchError('output-invalid', `unable to use PBS API ${url.origin}${url.pathname} - ${why}`);
}

function reachError(err: unknown, where: string): PvepatchError {
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof PvepatchError)
      return new PvepatchError(e.code, `unable to query PBS API ${where} - ${e.message}`, { cause: err });
  }
  const text = escapeControls(errorMessage(err));
  if ((err as Error)?.name === 'TimeoutError' || (err as Error)?.name === 'AbortError') {
    return new PvepatchError('timeout', `unable to query PBS API ${where} - no answer in time`, { cause: err });
  }
  return new UnreachableError(`unable to reach PBS API ${where} - ${text}`, { cause: err });
}
