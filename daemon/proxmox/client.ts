import proxmoxApi, { type Proxmox, ProxmoxEngine } from 'proxmox-api';
import type { Agent } from 'undici';
import { errorMessage, PvepatchError, UnreachableError } from '../core/errors.js';
import { ProxmoxApiError } from './errors.js';
import { type LiteInit, type LiteResponse, liteFetch } from './lite-fetch.js';
import { createDispatcher, type TlsTrust } from './tls.js';

export interface ProxmoxClientOptions extends TlsTrust {
  /** https://host:port — the port is always explicit (proxmox-api would otherwise use 443). */
  url: string;
  /** `USER@REALM!TOKENID=SECRET` as `pveum user token add` prints it. */
  token: string;
  timeoutMs?: number;
}

type Params = Record<string, string | number | boolean | string[] | undefined>;

/**
 * proxmox-api re-sends any request once after a network error or its own timeout, POST included.
 * A snapshot or upgrade must never be issued twice, so every request enters the engine with its
 * retry budget already spent; GETs are retried here instead, and only for "could not reach it".
 */
class SendOnceEngine extends ProxmoxEngine {
  override async doRequest(method: string, path: string, tpl: string, params?: Params): Promise<unknown> {
    try {
      return await super.doRequest(method, path, tpl, params as never, 1);
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof PvepatchError) throw cause;
      throw new UnreachableError(`unable to reach Proxmox API - ${errorMessage(err)}`, { cause: err });
    }
  }
}

/** The PVE API client: one dispatcher with pinned trust, typed errors, non-GET sent at most once. */
export class ProxmoxClient {
  readonly api: Proxmox.Api;
  readonly baseUrl: URL;
  private readonly dispatcher: Agent;
  private readonly engine: SendOnceEngine;

  constructor(opts: ProxmoxClientOptions) {
    const url = parseApiUrl(opts.url);
    const [tokenID, tokenSecret] = splitToken(opts.token);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    this.baseUrl = url;
    this.dispatcher = createDispatcher(opts, timeoutMs);
    const dispatcher = this.dispatcher;
    this.engine = new SendOnceEngine({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 443),
      schema: 'https',
      tokenID,
      tokenSecret,
      queryTimeout: timeoutMs,
      fetch: ((input: URL, init: LiteInit) => checkedFetch(dispatcher, input, init, timeoutMs)) as never,
    });
    this.api = proxmoxApi(this.engine);
  }

  /** Generic call for paths the typed model lacks; `path` starts below /api2/json. */
  request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, params?: Params): Promise<T> {
    const clean = Object.fromEntries(Object.entries(params ?? {}).filter(([, v]) => v !== undefined));
    return this.engine.doRequest(method, `/api2/json${path}`, path, clean) as Promise<T>;
  }

  async get<T = unknown>(path: string, params?: Params): Promise<T> {
    try {
      return await this.request<T>('GET', path, params);
    } catch (err) {
      if (!(err instanceof UnreachableError)) throw err;
      return this.request<T>('GET', path, params); // reads are safe to repeat once
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

async function checkedFetch(dispatcher: Agent, input: URL, init: LiteInit, timeoutMs: number): Promise<LiteResponse> {
  const method = String(init.method ?? 'GET');
  const path = input.pathname.replace(/^\/api2\/json/, '');
  let res: LiteResponse;
  try {
    res = await liteFetch(dispatcher, input, init);
  } catch (err) {
    throw networkError(err, method, path, timeoutMs);
  }
  if (res.status === 200) return res;
  let body: { errors?: Record<string, string>; message?: string } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // Proxmox sends {"data":null}; proxies may send HTML — the status line is what matters
  }
  const message = res.statusText || body.message?.trim() || 'unknown error';
  throw new ProxmoxApiError({ status: res.status, method, path, message, paramErrors: body.errors ?? undefined });
}

function networkError(err: unknown, method: string, path: string, timeoutMs: number): PvepatchError {
  const chain: unknown[] = [];
  for (let e: unknown = err; e && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
  const own = chain.find((e): e is PvepatchError => e instanceof PvepatchError);
  if (own) return own;
  const text = chain.map((e) => errorMessage(e)).join(': ');
  if (chain.some((e) => (e as Error).name === 'AbortError' || /timeout/i.test((e as { code?: string }).code ?? ''))) {
    return new PvepatchError('timeout', `${method} ${path}: no answer from Proxmox API within ${timeoutMs / 1000}s`, {
      cause: err,
    });
  }
  if (/certificate|self.signed|CERT_|unable to verify/i.test(text)) {
    return new PvepatchError(
      'tls-failed',
      `${method} ${path}: TLS verification failed - ${text}; check pve_ca / pve_fingerprint`,
      { cause: err },
    );
  }
  return new UnreachableError(`${method} ${path}: unable to connect to Proxmox API - ${text}`, { cause: err });
}

function parseApiUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PvepatchError('config-invalid', `invalid pve_url '${value}' - expected https://HOST:8006`);
  }
  if (url.protocol !== 'https:') {
    throw new PvepatchError('config-invalid', `invalid pve_url '${value}' - only https is supported`);
  }
  // new URL() drops an explicit :443, so only a missing port means Proxmox's 8006
  if (!url.port && !/^https:\/\/[^/]*:443(\/|$)/.test(value)) url.port = '8006';
  return url;
}

const TOKEN =
  /^([^\s@!=]+@[^\s@!=]+![A-Za-z][A-Za-z0-9._-]+)=([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** Splits `USER@REALM!ID=SECRET`; the secret is never echoed in the error. */
export function splitToken(token: string): [string, string] {
  const m = TOKEN.exec(token.trim());
  if (!m) {
    throw new PvepatchError(
      'config-invalid',
      "invalid pve_token - expected 'USER@REALM!TOKENID=SECRET' with the UUID secret that 'pveum user token add' printed",
    );
  }
  return [m[1]!, m[2]!];
}
