import type { IncomingMessage, ServerResponse } from 'node:http';

/** HTTP details as pve-http-server (`PVE/APIServer/AnyEvent.pm`, `Formatter.pm`) handles them. */

export const JSON_CT = 'application/json;charset=UTF-8';
export const MAX_POST = 512 * 1024;

/** `user@realm!token` (pve-access-control `AccessControl.pm` `$token_subid_regex`, `Auth/Plugin.pm` regexes). */
export const TOKENID_RE = /^([^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)$/;

/** Bytes as Perl sees them (latin1 in JS strings) → text, as `Encode::decode('utf8', …)` does. */
const utf8 = (latin1: string) => Buffer.from(latin1, 'latin1').toString('utf8');

/** `%XX` and `+` decoding on a byte string (uri_unescape / decode_urlencoded). */
function unescapeBytes(s: string): string {
  return s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

export function decodePath(rawPath: string): string {
  return utf8(unescapeBytes(rawPath));
}

/**
 * `decode_urlencoded`: pairs split on `&` or `;`, only the text up to a second `=` is the value
 * (Perl `split(/=/)`), a repeated key becomes an array.
 */
export function decodeUrlencoded(data: string): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const kv of data.split(/[&;]/)) {
    if (kv === '') continue;
    const [rawKey = '', rawValue] = kv.split('=');
    const key = utf8(unescapeBytes(rawKey.replace(/\+/g, ' ')));
    if (rawValue === undefined) {
      out[key] = undefined;
      continue;
    }
    const value = utf8(unescapeBytes(rawValue.replace(/\+/g, ' ')));
    const old = out[key];
    out[key] = old === undefined ? value : Array.isArray(old) ? [...old, value] : [old, value];
  }
  return out;
}

/** `parse_content_type`: the media type without parameters. */
export function mediaType(header: string | undefined): string | undefined {
  return header?.split(/\s*[;,]\s*/)[0];
}

/** `extract_auth_value`: the value after `KEY=` or `KEY ` in a Cookie or Authorization header. */
export function extractAuthValue(header: string | undefined, key: string): string | undefined {
  if (!header) return undefined;
  const m = new RegExp(`(?:^|\\s)${key}(?:=| )([^;]*)`).exec(header);
  return m?.[1] ? utf8(unescapeBytes(m[1])) : undefined;
}

export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    req.on('error', reject);
  });
}

/** Status text as `response()` makes it: the first line of the message, or the standard text. */
export function statusLine(message: string | undefined, fallback: string): string {
  const first = (message ?? '').split('\n')[0] ?? '';
  const text = first === '' ? fallback : first;
  return text.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
}

export interface Answer {
  status: number;
  /** The API handler's status when it differs from the HTTP one (the `extjs` format always answers 200). */
  apiStatus?: number;
  message?: string;
  /** JSON answers get the content type; plain ones (error(), 401) send the text or nothing. */
  body?: string;
  contentType?: string;
}

/** Writes an answer with the headers `response()` always sets; errors close the connection. */
export function writeAnswer(res: ServerResponse, answer: Answer, fallbackText: string): string {
  const text = statusLine(answer.message, fallbackText);
  const now = new Date().toUTCString();
  res.statusCode = answer.status;
  res.statusMessage = text;
  res.setHeader('Cache-Control', 'max-age=0');
  res.setHeader('Expires', now);
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Server', 'pve-api-daemon/3.0');
  if (answer.status >= 400) res.setHeader('Connection', 'close');
  if (answer.contentType) res.setHeader('Content-Type', answer.contentType);
  if (answer.body) {
    const buf = Buffer.from(answer.body, 'utf8');
    res.setHeader('Content-Length', buf.length);
    res.end(buf);
  } else {
    res.end();
  }
  return text;
}

/**
 * `Formatter/Standard.pm` `prepare_response_data`: `{data, errors?, message?, total?}`; the `extjs` format adds
 * `success` (1, or 0 on an error status or parameter errors) and on an error status its `status`.
 */
export function formatBody(
  format: string,
  status: number,
  data: unknown,
  message: string,
  errors?: Record<string, string>,
  total?: number,
): string {
  if (format !== 'extjs') return jsonBody(status, data, message, errors, total);
  const out: Record<string, unknown> = { data: data ?? null };
  let success = 1;
  if (errors !== undefined && Object.keys(errors).length > 0) {
    success = 0;
    out.errors = errors;
  }
  if (status >= 400) {
    success = 0;
    out.message = message;
    out.status = status;
  }
  out.success = success;
  if (success && total) out.total = total;
  return JSON.stringify(out);
}

/** `Formatter/Standard.pm` `prepare_response_data` for the json format. */
export function jsonBody(
  status: number,
  data: unknown,
  message: string,
  errors?: Record<string, string>,
  total?: number,
): string {
  const out: Record<string, unknown> = { data: data ?? null };
  const failed = errors !== undefined && Object.keys(errors).length > 0;
  if (failed) out.errors = errors;
  if (status >= 400) out.message = message;
  if (!failed && total) out.total = total;
  return JSON.stringify(out);
}
