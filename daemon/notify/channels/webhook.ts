/**
 * POSTs a notification to a URL (presets: generic, ntfy, gotify; see webhook-presets.ts) with undici
 * on an Agent of its own. Each attempt has a timeout (default 10 s). Network errors, timeouts and
 * 5xx answers are retried with exponential backoff (default 4 attempts, waiting 1 s, 2 s, 4 s), so a
 * receiver may see a notification twice; a 4xx, a redirect (never followed) or a certificate that is
 * not trusted is final. Messages name only the URL's origin: paths and queries often hold tokens.
 */
import { type Agent, request } from 'undici';
import { PvepatchError } from '../../core/errors.js';
import { escapeControls } from '../../core/escape.js';
import type { ChannelDriver, WebhookChannelConfig } from '../channel-types.js';
import { readSecretFile } from '../secrets.js';
import { webhookAgent } from '../tls-agent.js';
import { buildWebhookRequest, type WebhookRequest } from '../webhook-presets.js';

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_ATTEMPTS = 4;
const DEFAULT_RETRY_BASE_MS = 1000;
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Whether another attempt may help (a server error) or not (the server said no). */
class Attempt extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
    readonly code: 'unreachable' | 'timeout' | 'tls-failed' | 'config-invalid' = 'unreachable',
  ) {
    super(message);
  }
}

export const webhookChannel = {
  kind: 'webhook',
  async send(config, message, ctx) {
    const secret = config.secret_file ? readSecretFile(config.secret_file, ctx.uid) : undefined;
    const req = buildWebhookRequest(config, message, secret);
    const timeoutMs = config.timeout_ms ?? DEFAULT_TIMEOUT_MS;
    const attempts = Math.max(1, config.attempts ?? DEFAULT_ATTEMPTS);
    const base = config.retry_base_ms ?? DEFAULT_RETRY_BASE_MS;
    const sleep = ctx.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const origin = new URL(req.url).origin;
    const agent = webhookAgent(config, timeoutMs);
    try {
      let last: Attempt | undefined;
      for (let i = 0; i < attempts; i++) {
        if (i > 0) await sleep(base * 2 ** (i - 1));
        try {
          const status = await postOnce(req, agent, timeoutMs);
          return `posted to ${origin} (HTTP ${status}${i > 0 ? `, attempt ${i + 1}` : ''})`;
        } catch (err) {
          last = err instanceof Attempt ? err : new Attempt((err as Error).message, false, 'unreachable');
          if (!last.retry) break;
        }
      }
      const tries = attempts > 1 && last?.retry ? ` (${attempts} attempts)` : '';
      const why = (last?.message ?? 'no attempt made').split(req.url).join(origin); // never the path or query
      throw new PvepatchError(last?.code ?? 'unreachable', `unable to post notification to ${origin} - ${why}${tries}`);
    } finally {
      await agent.destroy().catch(() => {});
    }
  },
} satisfies ChannelDriver<WebhookChannelConfig>;

/** One POST; resolves with a 2xx status, throws an Attempt saying whether to retry. */
async function postOnce(req: WebhookRequest, agent: Agent, timeoutMs: number): Promise<number> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await request(req.url, {
      method: 'POST',
      headers: { 'user-agent': 'pvepatch', ...req.headers },
      body: req.body,
      dispatcher: agent,
      signal: abort.signal,
      maxRedirections: 0,
    });
    const start = await readStart(res.body, 300);
    const status = res.statusCode;
    if (status >= 200 && status < 300) return status;
    const said = start ? `: ${start}` : '';
    if (status >= 500) throw new Attempt(`the server answered HTTP ${status}${said}`, true);
    if (status >= 300 && status < 400) {
      throw new Attempt(
        `the server redirects (HTTP ${status}), which is not followed; set url to the final address`,
        false,
        'config-invalid',
      );
    }
    throw new Attempt(
      `the server refused it with HTTP ${status}${said}; check url, preset and secret-file`,
      false,
      'config-invalid',
    );
  } catch (err) {
    if (err instanceof Attempt) throw err;
    const code = (err as { code?: string }).code ?? '';
    if (abort.signal.aborted || TIMEOUT_CODES.has(code)) {
      throw new Attempt(`no answer within ${duration(timeoutMs)}; check that the receiver is up`, true, 'timeout');
    }
    throw networkError(err);
  } finally {
    clearTimeout(timer);
  }
}

function networkError(err: unknown): Attempt {
  const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
  if (e instanceof PvepatchError) return new Attempt(e.message, false, 'tls-failed');
  const code = e.code ?? e.cause?.code ?? '';
  if (TLS_CODES.has(code)) {
    return new Attempt(
      `the server's TLS certificate is not trusted (${code}); set ca-file or fingerprint for this channel`,
      false,
      'tls-failed',
    );
  }
  const said = e.cause?.message ?? e.message;
  const what = code && !said.includes(code) ? `${code} ${said}` : said;
  return new Attempt(`${what}; check the URL and that the receiver is reachable`, true);
}

function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** The first `max` characters of a response body (control characters escaped); the rest is dropped. */
async function readStart(body: AsyncIterable<Buffer> & { destroy(): unknown }, max: number): Promise<string> {
  let text = '';
  for await (const chunk of body) {
    text += chunk.toString('utf8');
    if (text.length >= max) {
      body.destroy();
      break;
    }
  }
  return escapeControls(text.slice(0, max).trim());
}
