import { createHash } from 'node:crypto';
import { type Dispatcher, request } from 'undici';
import { errorMessage } from '../../core/errors.js';
import { createDispatcher, type TlsTrust } from '../../proxmox/tls.js';
import { type Credential, credentialText, forwardHeaders } from './credentials.js';
import { AuthError } from './errors.js';
import type { AuthCaller, PermMap } from './privileges.js';

export interface PermissionSource {
  /**
   * Who the credential belongs to and their whole privilege map (`GET /access/permissions`), with a
   * non-enumerable `resolve(paths)` for exact per-path answers; throws AuthError (401, 502, 504).
   */
  lookup(credential: Credential): Promise<AuthCaller>;
}

export interface PveProxyPermissionSourceOptions extends TlsTrust {
  /** The local pveproxy, e.g. https://127.0.0.1:8006 (config `pve_url`). */
  url: string;
  timeoutMs?: number;
  /** How long a successful lookup is reused (config `auth_cache_seconds`, default 30). */
  cacheSeconds?: number;
  /** How long a rejected credential stays rejected without asking again (default 5). */
  negativeCacheSeconds?: number;
  /** Most cached credentials (oldest dropped first; default 1000). */
  maxEntries?: number;
  /** For tests: a ready dispatcher instead of one built from the trust options. */
  dispatcher?: Dispatcher;
  now?: () => number;
}

type Entry = { expires: number; perms?: PermMap; error?: AuthError };

const MAX_BODY = 4 * 1024 * 1024;

/** sha256 of the credential text: the only form a credential is kept in. */
export function credentialKey(c: Credential): string {
  return createHash('sha256').update(credentialText(c)).digest('hex');
}

function parsePerms(body: unknown): PermMap {
  const data = (body as { data?: unknown } | null)?.data;
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error('answer has no permission map');
  const out: PermMap = Object.create(null);
  for (const [path, privs] of Object.entries(data as Record<string, unknown>)) {
    if (!privs || typeof privs !== 'object' || Array.isArray(privs)) continue;
    const p: Record<string, number> = Object.create(null);
    for (const [priv, v] of Object.entries(privs as Record<string, unknown>)) p[priv] = Number(v) ? 1 : 0;
    out[path] = p;
  }
  return out;
}

/**
 * Asks the local pveproxy `GET /api2/json/access/permissions` with the caller's own credential
 * (pveproxy verifies the ticket signature or token secret), through a dispatcher pinned like the
 * daemon's PVE client. Answers are cached per sha256(credential), rejections briefly too.
 */
export class PveProxyPermissionSource implements PermissionSource {
  private readonly base: URL;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly timeoutMs: number;
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<PermMap>>();

  constructor(opts: PveProxyPermissionSourceOptions) {
    this.base = new URL(opts.url);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.dispatcher = opts.dispatcher ?? createDispatcher(opts, this.timeoutMs);
    this.ownsDispatcher = !opts.dispatcher;
    this.ttlMs = (opts.cacheSeconds ?? 30) * 1000;
    this.negativeTtlMs = (opts.negativeCacheSeconds ?? 5) * 1000;
    this.maxEntries = opts.maxEntries ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** The cache's keys (hashes), for tests and diagnostics. */
  cacheKeys(): string[] {
    return [...this.cache.keys()];
  }

  async lookup(credential: Credential): Promise<AuthCaller> {
    const key = credentialKey(credential);
    const perms = await this.cached(key, () => this.ask(credential));
    const caller: AuthCaller =
      credential.kind === 'ticket'
        ? { userid: credential.userid, perms }
        : { userid: credential.userid, tokenid: credential.tokenid, perms };
    // not enumerable: the closure holds the credential and must never be serialised or logged
    Object.defineProperty(caller, 'resolve', {
      enumerable: false,
      value: async (paths: string[]) => {
        const out: PermMap = Object.create(null);
        const queue = [...paths];
        const worker = async () => {
          for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
            const one = await this.cached(`${key} ${path}`, () => this.ask(credential, path));
            out[path] = one[path] ?? Object.create(null);
          }
        };
        await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
        return out;
      },
    });
    return caller;
  }

  /** The cached answer for `key` (a credential hash, optionally with a path), or `load()` once for all waiters. */
  private async cached(key: string, load: () => Promise<PermMap>): Promise<PermMap> {
    const hit = this.cache.get(key);
    if (hit && hit.expires > this.now()) {
      this.cache.delete(key); // LRU: move to the end
      this.cache.set(key, hit);
      if (hit.error) throw hit.error;
      return hit.perms!;
    }
    if (hit) this.cache.delete(key);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = load().then(
        (perms) => {
          this.remember(key, { expires: this.now() + this.ttlMs, perms });
          return perms;
        },
        (err: unknown) => {
          if (err instanceof AuthError && err.status === 401)
            this.remember(key, { expires: this.now() + this.negativeTtlMs, error: err });
          throw err;
        },
      );
      pending.finally(() => this.inflight.delete(key)).catch(() => {});
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private remember(key: string, entry: Entry): void {
    if (this.ttlMs <= 0 && entry.perms) return;
    this.cache.delete(key);
    this.cache.set(key, entry);
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
  }

  private async ask(credential: Credential, path?: string): Promise<PermMap> {
    const url = new URL('/api2/json/access/permissions', this.base);
    if (path !== undefined) url.searchParams.set('path', path);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: 'GET',
        headers: { ...forwardHeaders(credential), accept: 'application/json' },
        dispatcher: this.dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      const timedOut = /timeout/i.test((err as { code?: string }).code ?? '') || /timeout/i.test(errorMessage(err));
      throw new AuthError(
        timedOut ? 'timeout' : 'unreachable',
        `unable to check permissions - pveproxy at ${this.base.origin} could not be asked (${errorMessage(err)})`,
        { cause: err },
      );
    }
    if (res.statusCode === 401) {
      await res.body.dump();
      throw new AuthError(
        'unauthenticated',
        credential.kind === 'ticket'
          ? 'authentication failure - invalid ticket'
          : 'authentication failure - invalid token',
      );
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new AuthError(
        'unreachable',
        `unable to check permissions - pveproxy at ${this.base.origin} answered HTTP ${res.statusCode}`,
      );
    }
    try {
      const text = await res.body.text();
      if (text.length > MAX_BODY) throw new Error('answer too large');
      return parsePerms(JSON.parse(text));
    } catch (err) {
      throw new AuthError(
        'unreachable',
        `unable to check permissions - bad answer from pveproxy (${errorMessage(err)})`,
      );
    }
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }
}
