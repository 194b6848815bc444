import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual, X509Certificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WebhookChannelConfig } from '../../daemon/notify/channel-types.js';
import { webhookChannel } from '../../daemon/notify/channels/webhook.js';
import { renderMessage } from '../../daemon/notify/render.js';
import { fixture, outgoing, tempDir } from './helpers.js';
import { type Receiver, reply, startReceiver } from './receiver.js';
import { makeCerts, type TestCerts } from './tls-certs.js';

const dir = tempDir('webhook');
const secretFile = join(dir, 'hook.secret');
writeFileSync(secretFile, 'k3y-Secret\n', { mode: 0o600 });
let sleeps: number[] = [];
const ctx = { hostname: 'pve1', sleep: async (ms: number) => void sleeps.push(ms) };
const receivers: Receiver[] = [];
const receiver = async (...args: Parameters<typeof startReceiver>) => {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
};
const hook = (url: string, more: Partial<WebhookChannelConfig> = {}): WebhookChannelConfig => ({
  name: 'ops',
  kind: 'webhook',
  url,
  ...more,
});

describe('channel webhook', () => {
  let certs: TestCerts;
  before(() => {
    certs = makeCerts(dir);
  });
  after(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('generic: posts the rendered notification as JSON, signed with HMAC-SHA256 over "<timestamp>.<body>"', async () => {
    sleeps = [];
    const r = await receiver((_, __, res) => reply(res, 204));
    const done = await webhookChannel.send(
      hook(`${r.url}/hooks/pvepatch`, { secret_file: secretFile }),
      outgoing('run-error'),
      ctx,
    );
    assert.equal(done, `posted to ${r.url} (HTTP 204)`);
    const [req] = r.requests;
    assert.equal(req?.method, 'POST');
    assert.equal(req?.path, '/hooks/pvepatch');
    assert.equal(req?.headers['content-type'], 'application/json');
    assert.equal(req?.headers['x-pvepatch-event'], 'run-error');
    assert.equal(req?.headers['x-pvepatch-timestamp'], '1796608800');
    const mac = createHmac('sha256', 'k3y-Secret').update(`1796608800.${req?.body}`).digest();
    const sig = Buffer.from(String(req?.headers['x-pvepatch-signature']).replace(/^sha256=/, ''), 'hex');
    assert.ok(sig.length === 32 && timingSafeEqual(sig, mac), 'the signature verifies');
    const m = renderMessage('run-error', fixture('run-error'));
    assert.deepEqual(JSON.parse(req?.body ?? ''), {
      event: 'run-error',
      severity: 'error',
      title: m.title,
      message: m.text,
      html: m.html,
      fields: { type: 'pvepatch', hostname: 'pve1', 'job-id': 'nightly' },
      data: fixture('run-error'),
      timestamp: 1_796_608_800,
    });
    assert.deepEqual(sleeps, []);
  });

  it('generic without a secret sends no signature', async () => {
    const r = await receiver((_, __, res) => reply(res, 200));
    await webhookChannel.send(hook(r.url), outgoing('test'), ctx);
    assert.equal(r.requests[0]?.headers['x-pvepatch-signature'], undefined);
    assert.equal(r.requests[0]?.headers['x-pvepatch-timestamp'], undefined);
  });

  it('retries a 5xx after 1 s, then 2 s, and succeeds', async () => {
    sleeps = [];
    const r = await receiver((_, n, res) => reply(res, n < 3 ? 503 : 200, n < 3 ? 'busy' : 'ok'));
    assert.equal(
      await webhookChannel.send(hook(r.url), outgoing('test'), ctx),
      `posted to ${r.url} (HTTP 200, attempt 3)`,
    );
    assert.equal(r.requests.length, 3);
    assert.deepEqual(sleeps, [1000, 2000]);
    assert.equal(new Set(r.requests.map((q) => q.body)).size, 1, 'every attempt sends the same body');
  });

  it('gives up after 4 attempts (waits 1 s, 2 s, 4 s) and quotes the last answer', async () => {
    sleeps = [];
    const r = await receiver((_, __, res) => reply(res, 500, 'database\nlocked'));
    await assert.rejects(webhookChannel.send(hook(r.url), outgoing('test'), ctx), {
      code: 'unreachable',
      message: `unable to post notification to ${r.url} - the server answered HTTP 500: database\\nlocked (4 attempts)`,
    });
    assert.equal(r.requests.length, 4);
    assert.deepEqual(sleeps, [1000, 2000, 4000]);
  });

  it('never retries a 4xx; the error quotes it but not the URL path or query', async () => {
    sleeps = [];
    const r = await receiver((_, __, res) => reply(res, 400, `invalid topic ${'x'.repeat(400)}`));
    const err = await webhookChannel
      .send(hook(`${r.url}/t0ken-in-path?key=abc`), outgoing('test'), ctx)
      .catch((e) => e);
    assert.equal(r.requests.length, 1);
    assert.deepEqual(sleeps, []);
    assert.equal(err.code, 'config-invalid');
    assert.match(
      err.message,
      new RegExp(
        `^unable to post notification to ${r.url} - the server refused it with HTTP 400: invalid topic x+; check url, preset and secret-file$`,
      ),
    );
    assert.ok(err.message.length < 500 && !err.message.includes('t0ken') && !err.message.includes('abc'));
  });

  it('does not follow a redirect', async () => {
    const r = await receiver((_, __, res) => {
      res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
      res.end();
    });
    await assert.rejects(
      webhookChannel.send(hook(r.url), outgoing('test'), ctx),
      /HTTP 302\), which is not followed; set url to the final address$/,
    );
    assert.equal(r.requests.length, 1);
  });

  it('times out on a receiver that never answers, and retries', async () => {
    sleeps = [];
    const r = await receiver(() => {});
    await assert.rejects(webhookChannel.send(hook(r.url, { timeout_ms: 300, attempts: 2 }), outgoing('test'), ctx), {
      code: 'timeout',
      message: `unable to post notification to ${r.url} - no answer within 300 ms; check that the receiver is up (2 attempts)`,
    });
    assert.equal(r.requests.length, 2);
    assert.deepEqual(sleeps, [1000]);
  });

  it('retries a refused connection', async () => {
    sleeps = [];
    const r = await receiver(() => {});
    await r.close();
    await assert.rejects(webhookChannel.send(hook(r.url, { retry_base_ms: 5 }), outgoing('test'), ctx), {
      code: 'unreachable',
      message: `unable to post notification to ${r.url} - connect ECONNREFUSED ${r.url.slice(7)}; check the URL and that the receiver is reachable (4 attempts)`,
    });
    assert.deepEqual(sleeps, [5, 10, 20]);
  });

  it('ntfy: the text as body, Title, Priority and Tags headers, the secret as bearer token', async () => {
    const r = await receiver((_, __, res) => reply(res, 200, '{"id":"x"}'));
    await webhookChannel.send(
      hook(`${r.url}/pvepatch`, { preset: 'ntfy', secret_file: secretFile }),
      outgoing('run-refused'),
      ctx,
    );
    const [req] = r.requests;
    const m = renderMessage('run-refused', fixture('run-refused'));
    assert.equal(req?.path, '/pvepatch');
    assert.equal(req?.body, m.text);
    assert.equal(req?.headers.title, m.title);
    assert.equal(req?.headers.priority, '4');
    assert.equal(req?.headers.tags, 'warning,pvepatch,run-refused');
    assert.equal(req?.headers.authorization, 'Bearer k3y-Secret');
    assert.equal(req?.headers['content-type'], 'text/plain; charset=utf-8');
  });

  it('ntfy: encodes a title that is not ASCII (RFC 2047) and maps error to priority 5', async () => {
    const r = await receiver((_, __, res) => reply(res, 200));
    const data = { ...fixture('reboot-failed'), name: 'büro' };
    await webhookChannel.send(hook(r.url, { preset: 'ntfy' }), outgoing('reboot-failed', data), ctx);
    const title = String(r.requests[0]?.headers.title);
    const b64 = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=$/.exec(title)?.[1] ?? '';
    assert.equal(Buffer.from(b64, 'base64').toString('utf8'), renderMessage('reboot-failed', data).title);
    assert.equal(r.requests[0]?.headers.priority, '5');
    assert.equal(r.requests[0]?.headers.authorization, undefined);
  });

  it('gotify: POST <url>/message with title, message, priority and the token in X-Gotify-Key', async () => {
    const r = await receiver((_, __, res) => reply(res, 200, '{}'));
    await webhookChannel.send(
      hook(`${r.url}/gotify/`, { preset: 'gotify', secret_file: secretFile }),
      outgoing('updates-available'),
      ctx,
    );
    const [req] = r.requests;
    const m = renderMessage('updates-available', fixture('updates-available'));
    assert.equal(req?.path, '/gotify/message');
    assert.equal(req?.headers['x-gotify-key'], 'k3y-Secret');
    assert.deepEqual(JSON.parse(req?.body ?? ''), {
      title: m.title,
      message: m.text,
      priority: 3,
      extras: { 'client::display': { contentType: 'text/plain' } },
    });
  });

  it('https: trusts the pinned CA file or fingerprint; an unknown CA is final, not retried', async () => {
    sleeps = [];
    const r = await receiver((_, __, res) => reply(res, 200), { key: certs.key, cert: certs.cert });
    await webhookChannel.send(hook(r.url, { ca_file: certs.caFile }), outgoing('test'), ctx);
    const fp = new X509Certificate(certs.cert).fingerprint256;
    await webhookChannel.send(hook(r.url, { fingerprint: fp }), outgoing('test'), ctx);
    assert.equal(r.requests.length, 2);
    await assert.rejects(webhookChannel.send(hook(r.url), outgoing('test'), ctx), {
      code: 'tls-failed',
      message: `unable to post notification to ${r.url} - the server's TLS certificate is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE); set ca-file or fingerprint for this channel`,
    });
    await assert.rejects(webhookChannel.send(hook(r.url, { ca_file: certs.otherCaFile }), outgoing('test'), ctx), {
      code: 'tls-failed',
    });
    const wrong = `${'AB:'.repeat(31)}AB`;
    await assert.rejects(webhookChannel.send(hook(r.url, { fingerprint: wrong }), outgoing('test'), ctx), {
      code: 'tls-failed',
      message: new RegExp(
        `TLS certificate fingerprint mismatch - the server presented ${fp}; check the channel's fingerprint$`,
      ),
    });
    assert.equal(r.requests.length, 2, 'nothing was sent to an untrusted server');
    assert.deepEqual(sleeps, []);
  });
});
