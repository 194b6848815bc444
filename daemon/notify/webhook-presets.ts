/**
 * What each webhook preset sends.
 *
 * - generic: POST `url`, JSON `{event, severity, title, message, html, fields, data, timestamp}`
 *   (timestamp in Unix seconds). With a secret, the body is signed: header
 *   `X-Pvepatch-Timestamp: <timestamp>` and `X-Pvepatch-Signature: sha256=<hex>`, where hex is
 *   HMAC-SHA256 with the secret as key over `<timestamp>.<raw body>`. A receiver recomputes it over
 *   the bytes it got, compares in constant time, and refuses timestamps older than a few minutes
 *   (retries reuse the same body and timestamp, and come within seconds).
 * - ntfy: POST the topic URL, the text body as the message (cut to 4000 bytes), headers `Title`,
 *   `Priority` (error 5, warning 4, notice and info 3) and `Tags`; a secret is sent as bearer token.
 * - gotify: POST `<url>/message`, JSON `{title, message, priority, extras}` (priority: error 8,
 *   warning 5, notice 3, info 1), the application token from the secret in `X-Gotify-Key`.
 */
import { createHmac } from 'node:crypto';
import { PvepatchError } from '../core/errors.js';
import type { OutgoingNotification, WebhookChannelConfig } from './channel-types.js';
import type { Severity } from './types.js';

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

const NTFY_PRIORITY: Record<Severity, string> = { error: '5', warning: '4', notice: '3', info: '3' };
const NTFY_TAG: Record<Severity, string> = {
  error: 'rotating_light',
  warning: 'warning',
  notice: 'information_source',
  info: 'white_check_mark',
};
const GOTIFY_PRIORITY: Record<Severity, number> = { error: 8, warning: 5, notice: 3, info: 1 };
const NTFY_MAX_BYTES = 4000;

/** The signature header value for `body` sent at `timestamp` (see the module comment). */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function buildWebhookRequest(
  config: WebhookChannelConfig,
  message: OutgoingNotification,
  secret: string | undefined,
): WebhookRequest {
  const { title, text, html } = message.rendered();
  const preset = config.preset ?? 'generic';
  if (preset === 'ntfy') {
    const headers: Record<string, string> = {
      'content-type': 'text/plain; charset=utf-8',
      title: headerText(title),
      priority: NTFY_PRIORITY[message.severity],
      tags: `${NTFY_TAG[message.severity]},pvepatch,${message.event}`,
    };
    if (secret) headers.authorization = `Bearer ${secret}`;
    return { url: config.url, headers, body: cutBytes(text, NTFY_MAX_BYTES) };
  }
  if (preset === 'gotify') {
    if (!secret) {
      throw new PvepatchError(
        'config-invalid',
        'unable to post to gotify - no application token; set secret-file to a file holding it',
      );
    }
    const body = JSON.stringify({
      title,
      message: text,
      priority: GOTIFY_PRIORITY[message.severity],
      extras: { 'client::display': { contentType: 'text/plain' } },
    });
    const url = new URL(config.url);
    let path = url.pathname;
    while (path.endsWith('/')) path = path.slice(0, -1);
    url.pathname = `${path}/message`;
    return { url: url.href, headers: { 'content-type': 'application/json', 'x-gotify-key': secret }, body };
  }
  const { event, severity, fields, data, timestamp } = message;
  const body = JSON.stringify({ event, severity, title, message: text, html, fields, data, timestamp });
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-pvepatch-event': event };
  if (secret) {
    headers['x-pvepatch-timestamp'] = String(timestamp);
    headers['x-pvepatch-signature'] = webhookSignature(secret, timestamp, body);
  }
  return { url: config.url, headers, body };
}

/** A header value: ASCII as is, anything else as an RFC 2047 encoded word (ntfy decodes those). */
function headerText(text: string): string {
  const oneLine = text.replace(/[\r\n]+/g, ' ');
  let ascii = true;
  for (let i = 0; i < oneLine.length && ascii; i++) {
    const c = oneLine.charCodeAt(i);
    ascii = c >= 0x20 && c < 0x7f;
  }
  return ascii ? oneLine : `=?UTF-8?B?${Buffer.from(oneLine, 'utf8').toString('base64')}?=`;
}

/** At most `max` UTF-8 bytes, cut at a character boundary, with a note when something was cut. */
function cutBytes(text: string, max: number): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  const note = '\n[... cut; see the log]';
  let cut = Buffer.from(text, 'utf8')
    .subarray(0, max - note.length)
    .toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + note;
}
