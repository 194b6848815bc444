/**
 * Calls to another node's pvepatch daemon over its HTTPS API, the way pveproxy proxies
 * `/nodes/<other>/…`: with the caller's own Proxmox credentials (so the other node's Proxmox
 * privileges decide), or for a root caller on the unix socket with the daemon's own API token.
 * TLS is pinned to the certificate fingerprint the peer publishes in its node status; nothing is
 * ever sent unverified.
 */
import type { ServerResponse } from 'node:http';
import { isIPv6 } from 'node:net';
import { type Agent, type Dispatcher, request as undiciRequest } from 'undici';
import { extractAuthValue } from '../api/auth/credentials.js';
import { errorMessage, isPvepatchError, PvepatchError } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import { createDispatcher, normaliseFingerprint } from '../proxmox/tls.js';
import type { ForwardAuth, Peer } from './types.js';

/** The header every forwarded request carries: the node that forwarded it. Such a request is never forwarded again. */
export const FORWARDED_BY = 'x-pvepatch-forwarded-by';
/** The root user a daemon-token request speaks for (audit attribution only, never authorization). */
export const ON_BEHALF = 'x-pvepatch-on-behalf';
/** The largest answer read from a peer. */
export const MAX_PEER_ANSWER = 4 * 1024 * 1024;

export interface PeerRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Below `/api/v1`, e.g. `/runs/<id>`. */
  path: string;
  /** Repeated keys for arrays (`selector=a&selector=b`, as express reads them). */
  query?: Record<string, string | readonly string[] | undefined>;
  body?: unknown;
  /** More request headers (e.g. `last-event-id` for an event stream). */
  headers?: Record<string, string>;
}

export interface PeerAnswer {
  status: number;
  /** The parsed JSON answer (`{data}` or `{error}`). */
  body: unknown;
}

export interface PeerClient {
  /** One JSON request; resolves with the peer's status and answer (also 4xx/5xx), rejects when there is none. */
  request(peer: Peer, req: PeerRequest, auth: ForwardAuth): Promise<PeerAnswer>;
  /**
   * Proxies a streaming GET (a run's Server-Sent Events) to `res`, status and body as they come;
   * the upstream request is closed when the client goes away. Rejects (nothing written yet) when
   * the peer cannot be reached.
   */
  pipe(peer: Peer, req: PeerRequest, res: ServerResponse, auth: ForwardAuth): Promise<void>;
  close(): Promise<void>;
}

export interface PeerClientOptions {
  /** This node (sent as X-Pvepatch-Forwarded-By). */
  node: string;
  /** config api_timeout in ms: the whole of one request, and the wait for a stream's headers. */
  timeoutMs: number;
  /** Largest answer (default MAX_PEER_ANSWER). */
  maxBytes?: number;
}

const HINT = "check 'systemctl status pvepatchd' there";

/** `ip:port` as in a URL (IPv6 in brackets). */
function hostPort(ip: string, port: number): string {
  return isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The request headers that present `auth` to the peer, plus the loop guard. */
export function forwardHeaders(node: string, auth: ForwardAuth): Record<string, string> {
  const h: Record<string, string> = { [FORWARDED_BY]: node };
  if (auth.kind === 'daemon') {
    h.authorization = `PVEAPIToken=${auth.token}`;
    h[ON_BEHALF] = auth.onBehalfOf;
    return h;
  }
  const { cookie, authorization, csrfpreventiontoken } = auth.headers;
  let ticket: string | undefined;
  try {
    ticket = extractAuthValue(cookie, 'PVEAuthCookie');
  } catch {
    ticket = undefined; // a malformed cookie is not passed on; the peer then says what is missing
  }
  // only the ticket cookie: the caller's other cookies stay on this node
  if (ticket) h.cookie = `PVEAuthCookie=${encodeURIComponent(ticket)}`;
  if (authorization) h.authorization = authorization;
  if (csrfpreventiontoken) h.csrfpreventiontoken = csrfpreventiontoken;
  return h;
}

interface Target {
  url: URL;
  where: string;
  dispatcher: Agent;
}

/** The HTTPS client of the other nodes' daemons; one connection pool per peer certificate. */
export class HttpsPeerClient implements PeerClient {
  private readonly opts: Required<PeerClientOptions>;
  private readonly agents = new Map<string, { pin: string; agent: Agent }>();

  constructor(opts: PeerClientOptions) {
    this.opts = { maxBytes: MAX_PEER_ANSWER, ...opts };
  }

  async request(peer: Peer, req: PeerRequest, auth: ForwardAuth): Promise<PeerAnswer> {
    const t = this.target(peer, req);
    const timeoutMs = this.opts.timeoutMs;
    const signal = AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = {
      ...req.headers,
      ...forwardHeaders(this.opts.node, auth),
      accept: 'application/json',
    };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    let res: Dispatcher.ResponseData;
    try {
      res = await undiciRequest(t.url, {
        dispatcher: t.dispatcher,
        method: req.method,
        headers,
        ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
        signal,
      });
    } catch (err) {
      throw this.failure(peer, t.where, err);
    }
    const max = this.opts.maxBytes;
    const tooLarge = () =>
      new PvepatchError(
        'output-invalid',
        `unable to read the answer of the pvepatch daemon on node '${peer.node}' (${t.where}) - larger than ${max / 1024 / 1024} MiB; narrow the request (a selector, a smaller page)`,
      );
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      discard(res.body);
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > max) {
          discard(res.body);
          throw tooLarge();
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (isPvepatchError(err)) throw err;
      throw this.failure(peer, t.where, err);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return { status: res.statusCode, body: JSON.parse(text) as unknown };
    } catch {
      throw new PvepatchError(
        'output-invalid',
        `unable to read the answer of the pvepatch daemon on node '${peer.node}' (${t.where}) - HTTP ${res.statusCode}, not JSON; is a pvepatch daemon listening on that port?`,
      );
    }
  }

  async pipe(peer: Peer, req: PeerRequest, res: ServerResponse, auth: ForwardAuth): Promise<void> {
    const t = this.target(peer, req);
    const abort = new AbortController();
    const gone = () => abort.abort();
    res.once('close', gone);
    // the wait for the headers is bounded; the stream itself may stay quiet between keep-alives
    const timer = setTimeout(() => abort.abort(new DOMException('timeout', 'TimeoutError')), this.opts.timeoutMs);
    let up: Dispatcher.ResponseData;
    try {
      up = await undiciRequest(t.url, {
        dispatcher: t.dispatcher,
        method: req.method,
        headers: { ...req.headers, ...forwardHeaders(this.opts.node, auth), accept: 'text/event-stream' },
        signal: abort.signal,
        bodyTimeout: 0,
      });
    } catch (err) {
      res.off('close', gone);
      if (res.destroyed || res.writableEnded) return; // the client left first
      throw this.failure(peer, t.where, abort.signal.reason ?? err);
    } finally {
      clearTimeout(timer);
    }
    res.statusCode = up.statusCode;
    for (const name of ['content-type', 'cache-control', 'x-accel-buffering', 'content-length']) {
      const v = up.headers[name];
      if (typeof v === 'string') res.setHeader(name, v);
    }
    res.flushHeaders();
    try {
      for await (const chunk of up.body) {
        if (res.destroyed) break;
        res.write(chunk as Buffer);
      }
    } catch {
      // the peer went away mid-stream (or the client did): the client sees the stream end and may reconnect
    } finally {
      res.off('close', gone);
      discard(up.body);
      if (!res.writableEnded) res.end();
    }
  }

  async close(): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((a) => a.agent.close().catch(() => {})));
  }

  /** The peer's URL and pinned connection pool, or why it cannot be called. */
  private target(peer: Peer, req: PeerRequest): Target {
    const status = peer.status;
    if (!peer.alive)
      throw new PvepatchError(
        'daemon-unavailable',
        peer.reason ?? `no pvepatch daemon running on node '${peer.node}' - ${HINT}`,
      );
    if (!status?.api_port)
      throw new PvepatchError(
        'daemon-unavailable',
        `unable to reach the pvepatch daemon on node '${peer.node}' - it serves no HTTPS API (api_port 0); set api_port there`,
      );
    if (!peer.ip)
      throw new PvepatchError(
        'daemon-unavailable',
        `unable to reach the pvepatch daemon on node '${peer.node}' - its cluster address is unknown; check 'pvecm status'`,
      );
    const where = hostPort(peer.ip, status.api_port);
    if (!status.api_fingerprint)
      throw new PvepatchError(
        'tls-failed',
        `unable to reach the pvepatch daemon on node '${peer.node}' (${where}) - it publishes no certificate fingerprint to verify it by; restart pvepatchd there (with a version that publishes one)`,
      );
    let pin: string;
    try {
      pin = normaliseFingerprint(status.api_fingerprint);
    } catch {
      throw new PvepatchError(
        'tls-failed',
        `unable to reach the pvepatch daemon on node '${peer.node}' (${where}) - its published certificate fingerprint is not a SHA-256 fingerprint`,
      );
    }
    const key = `${peer.node}\n${where}`;
    let entry = this.agents.get(key);
    if (!entry || entry.pin !== pin) {
      if (entry) void entry.agent.close().catch(() => {});
      const agent = createDispatcher({ fingerprint: pin }, this.opts.timeoutMs, {
        mismatchHint: `not the certificate node '${peer.node}' publishes for its pvepatch daemon`,
      });
      entry = { pin, agent };
      this.agents.set(key, entry);
    }
    const url = new URL(`https://${where}/api/v1${req.path}`);
    for (const [k, v] of Object.entries(req.query ?? {})) {
      if (v === undefined) continue;
      for (const item of typeof v === 'string' ? [v] : v) url.searchParams.append(k, item);
    }
    return { url, where, dispatcher: entry.agent };
  }

  /** A thrown connection/timeout/TLS problem as a PvepatchError that names the node and what to do. */
  private failure(peer: Peer, where: string, err: unknown): PvepatchError {
    const name = (err as { name?: string } | undefined)?.name;
    const code = codeOf(err);
    const prefix = `unable to reach the pvepatch daemon on node '${peer.node}' (${where})`;
    if (name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT')
      return new PvepatchError('timeout', `${prefix} - no answer within ${this.opts.timeoutMs / 1000} s; ${HINT}`, {
        cause: err,
      });
    const tls = tlsError(err);
    if (tls) return new PvepatchError('tls-failed', `${prefix} - ${tls}`, { cause: err });
    return new PvepatchError(
      'daemon-unavailable',
      `${prefix} - ${escapeControls(code ?? errorMessage(err))}; ${HINT}`,
      {
        cause: err,
      },
    );
  }
}

/** Closes an answer's body that is not read to its end (its abort error is nobody's). */
function discard(body: Dispatcher.ResponseData['body']): void {
  if (body.destroyed) return;
  body.on('error', () => {});
  body.destroy();
}

/** `ECONNREFUSED`, `UND_ERR_SOCKET`, … from the error or its cause. */
function codeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The pinning refusal (or another TLS failure) in the error or its cause. */
function tlsError(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (isPvepatchError(e) && e.code === 'tls-failed') return e.message;
    const code = codeOf(e);
    if (code?.startsWith('ERR_SSL') || code?.startsWith('ERR_TLS')) return `TLS failed (${code})`;
  }
  return undefined;
}
