import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import { paramError, SimHttpError, texts } from './errors.js';
import type { Injections } from './injections.js';
import type { HandlerContext, Router } from './router.js';
import { ROUTES } from './routes.js';
import { validateParams } from './schema-validate.js';
import type { SimState } from './state.js';
import type { SimInjection, SimRequest } from './types.js';
import {
  type Answer,
  decodePath,
  decodeUrlencoded,
  extractAuthValue,
  formatBody,
  JSON_CT,
  MAX_POST,
  mediaType,
  readBody,
  TOKENID_RE,
  writeAnswer,
} from './wire.js';

export interface PipelineDeps {
  state: SimState;
  router: Router;
  /** token id → secret */
  tokens: Map<string, string>;
  fingerprint: string;
  requests: SimRequest[];
  injections: Injections;
  authFailDelayMs: number;
}

type Params = Record<string, unknown>;

/** An answer of `AnyEvent.pm` `error()`: the text as body, no content type. */
const plain = (status: number, message: string): Answer => ({ status, message, body: message });

/**
 * pve-http-server `AnyEvent.pm` (ticket from the `PVEAuthCookie` cookie, else from `Authorization`, else an API
 * token) and pve-manager `PVE/HTTPServer.pm` `auth_handler`: the auth id, or the 401 text. `/access/ticket`
 * needs no auth; ticket auth needs a valid `CSRFPreventionToken` on anything but GET.
 */
function authenticate(
  req: IncomingMessage,
  deps: PipelineDeps,
  method: string,
  relPath: string,
): { authid?: string; error?: string } {
  const header = req.headers.authorization;
  const ticket = extractAuthValue(req.headers.cookie, 'PVEAuthCookie') ?? extractAuthValue(header, 'PVEAuthCookie');
  if (relPath === '/access/ticket' && (method === 'GET' || method === 'POST')) return { authid: '' };
  if (relPath === '/access/domains' && method === 'GET') return { authid: '' };
  const token = ticket ? undefined : extractAuthValue(header, 'PVEAPIToken');
  if (token) {
    const m = /^(.*)=(.*)$/.exec(token); // pve-access-control `verify_token`
    if (!m || !TOKENID_RE.test(m[1]!)) return { error: texts.authFailed };
    return deps.tokens.get(m[1]!) === m[2] ? { authid: m[1]! } : { error: texts.authFailed };
  }
  if (!ticket) return { error: texts.noTicket };
  const userid = deps.state.access.verifyTicket(ticket);
  if (!userid) return { error: texts.authFailed };
  const csrf = req.headers.csrfpreventiontoken;
  if (method !== 'GET' && !deps.state.access.verifyCsrf(userid, Array.isArray(csrf) ? csrf[0] : csrf)) {
    return { error: texts.invalidCsrf };
  }
  return { authid: userid };
}

/** `extract_params`: the body (JSON or form) for POST/PUT, then the query string on top. */
function extractParams(
  req: IncomingMessage,
  method: string,
  body: string,
  query: string,
): { body: Params; all: Params } {
  let bodyParams: Params = {};
  if ((method === 'POST' || method === 'PUT') && body !== '') {
    if (mediaType(req.headers['content-type']) === 'application/json') {
      const parsed: unknown = JSON.parse(Buffer.from(body, 'latin1').toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('Not a HASH reference');
      bodyParams = parsed as Params;
    } else {
      bodyParams = decodeUrlencoded(body);
    }
  }
  return { body: bodyParams, all: { ...bodyParams, ...decodeUrlencoded(query) } };
}

/** One request through the steps of pve-http-server `AnyEvent.pm` and pve-manager `HTTPServer.pm`. */
export async function handleRequest(deps: PipelineDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'https://sim.invalid');
  const fullPath = decodePath(url.pathname);
  const abs = /^\/api2\/+([a-z][a-z0-9]+)(\/.*)?$/.exec(fullPath);
  const relPath = abs?.[2] ?? '/';
  const record: SimRequest = {
    method,
    path: abs ? relPath : fullPath,
    query: Object.fromEntries([...new Set(url.searchParams.keys())].map((k) => [k, pick(url.searchParams.getAll(k))])),
    body: {},
    status: 0,
    statusText: '',
    auth: req.headers.authorization,
    time: Date.now(),
  };
  if (abs) record.format = abs[1]!;
  deps.requests.push(record);
  const rawBody = await readBody(req, MAX_POST + 1);
  const answer = (a: Answer) => {
    record.status = a.status;
    record.apiStatus = a.apiStatus ?? a.status;
    if (a.status === 0) {
      record.statusText = 'dropped';
      return;
    }
    record.statusText = writeAnswer(res, a, STATUS_CODES[a.status] ?? 'Unknown');
  };
  if (!fullPath.startsWith('/api2')) return answer(plain(404, 'File not found'));
  if (!abs) return answer(plain(501, texts.noSuchUri));
  const auth = authenticate(req, deps, method, relPath);
  if (auth.error) {
    if (deps.authFailDelayMs > 0) await deps.state.sleep(deps.authFailDelayMs);
    return answer({ status: 401, message: auth.error });
  }
  if (auth.authid) record.authid = auth.authid;
  const len = Number(req.headers['content-length'] ?? 0);
  if (len > 0 && method !== 'POST' && method !== 'PUT') return answer(plain(501, texts.unexpectedContent(method)));
  if (len > MAX_POST) return answer(plain(501, 'for data too large'));
  const ct = mediaType(req.headers['content-type']);
  if (len > 0 && ct && ct !== 'application/x-www-form-urlencoded' && ct !== 'application/json') {
    return answer(plain(506, `upload 'Content-Type '${req.headers['content-type']}' not implemented`));
  }
  const format = abs[1]!;
  if (format !== 'json' && format !== 'extjs') return answer(plain(501, texts.noFormatter(relPath, format)));
  let params: { body: Params; all: Params };
  try {
    params = extractParams(req, method, rawBody, url.search.slice(1));
  } catch (err) {
    return answer(plain(500, (err as Error).message));
  }
  delete params.all._dc; // `handle_api2_request`: ExtJS' cache-buster parameter is dropped
  record.body = params.body;
  answer(await dispatch(deps, { method, relPath, format, params: params.all, authid: auth.authid!, record }, req));
}

function pick(values: string[]): string | string[] {
  return values.length === 1 ? values[0]! : values;
}

interface Call {
  method: string;
  relPath: string;
  /** `json` or `extjs` */
  format: string;
  params: Params;
  authid: string;
  record: SimRequest;
}

/** `rest_handler`: route, URI parameters, proxy target, validation, then the handler (and any injection). */
async function dispatch(deps: PipelineDeps, call: Call, req: IncomingMessage): Promise<Answer> {
  const json = (status: number, data: unknown, message?: string, errors?: Record<string, string>, total?: number) =>
    formatted(call.format, status, data, message, errors, total);
  let injection: SimInjection | undefined;
  try {
    const route = deps.router.match(call.relPath);
    const endpoint = route?.methods.get(call.method);
    if (!route || !endpoint) throw new SimHttpError(501, texts.notImplemented(call.method, call.relPath));
    call.record.route = route.template;
    for (const [name, value] of Object.entries(call.params)) {
      const fromUri = route.uriParams[name];
      if (fromUri !== undefined && (Array.isArray(value) || String(value) !== fromUri)) {
        throw paramError({ [name]: texts.conflictingParam });
      }
    }
    const merged = { ...call.params, ...route.uriParams };
    let node = deps.state.nodes[0]!;
    if (endpoint.proxyto) {
      const target = String(merged[endpoint.proxyto] ?? '');
      const resolved = deps.state.resolveNode(target);
      if (!resolved) throw new Error(texts.unknownNode(target));
      node = resolved;
    }
    const { params, lists } = validateParams(merged, endpoint.parameters);
    // pve-cluster `check_cfs_quorum`: writes need quorum (/etc/pve is read-only without it)
    if (!deps.state.quorate && call.method !== 'GET' && route.template !== '/access/ticket') {
      throw new Error('cluster not ready - no quorum?');
    }
    injection = deps.injections.take(call.method, call.relPath);
    if (injection && injection.when !== 'after') {
      const early = await applyInjection(deps, injection, req, call.format);
      if (early) return early;
    }
    const handler = ROUTES[`${call.method} ${route.template}`];
    if (!handler) throw new Error(`sim: no handler for ${call.method} ${route.template}`);
    const ctx: HandlerContext = {
      params,
      lists,
      node,
      authid: call.authid,
      state: deps.state,
      fingerprint: deps.fingerprint,
      attribs: {},
    };
    const data = await handler(ctx);
    if (injection?.when === 'after') {
      const late = await applyInjection(deps, injection, req, call.format);
      if (late) return late;
    }
    return json(200, data, undefined, undefined, ctx.attribs.total);
  } catch (err) {
    if (err instanceof SimHttpError) return json(err.status, null, err.message, err.errors);
    return json(500, null, err instanceof Error ? err.message : String(err));
  }
}

/** Waits, then answers with the injected status or drops the connection; undefined lets the call go on. */
async function applyInjection(
  deps: PipelineDeps,
  i: SimInjection,
  req: IncomingMessage,
  format: string,
): Promise<Answer | undefined> {
  if (i.delayMs) await deps.state.sleep(i.delayMs);
  if (i.drop) {
    req.socket.destroy();
    return { status: 0, message: 'dropped' };
  }
  if (i.status === undefined && i.message === undefined) return undefined;
  const status = i.status ?? 500;
  return formatted(format, status, null, i.message ?? STATUS_CODES[status] ?? 'error');
}

/**
 * An answer of the API formatter (`Formatter/Standard.pm`). `json`: the handler's status and message.
 * `extjs`: always `200 OK`; a failure is only in the body (`success: 0`, `message`, `status`).
 */
function formatted(
  format: string,
  status: number,
  data: unknown,
  message?: string,
  errors?: Record<string, string>,
  total?: number,
): Answer {
  const text = message || (STATUS_CODES[status] ?? '');
  const body = formatBody(format, status, data, text, errors, total);
  if (format === 'extjs') return { status: 200, apiStatus: status, contentType: JSON_CT, body };
  return { status, message: message ?? STATUS_CODES[status], contentType: JSON_CT, body };
}
