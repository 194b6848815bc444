import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SmtpChannelConfig } from '../../daemon/notify/channel-types.js';
import { smtpChannel } from '../../daemon/notify/channels/smtp.js';
import { renderMessage } from '../../daemon/notify/render.js';
import { fixture, outgoing, tempDir } from './helpers.js';
import { parseMime } from './mime.js';
import { startSmtpServer, type TestSmtpServer } from './smtp-server.js';
import { makeCerts, type TestCerts } from './tls-certs.js';

const dir = tempDir('smtp');
const passFile = join(dir, 'smtp.pass');
writeFileSync(passFile, 'p@ss w0rd\n', { mode: 0o600 });
const ctx = { hostname: 'pve1' };
const servers: TestSmtpServer[] = [];
const server = async (...args: Parameters<typeof startSmtpServer>) => {
  const s = await startSmtpServer(...args);
  servers.push(s);
  return s;
};
const channel = (port: number, more: Partial<SmtpChannelConfig> = {}): SmtpChannelConfig => ({
  name: 'mail',
  kind: 'smtp',
  server: 'localhost',
  port,
  mailto: ['ops@example.org', 'oncall@example.org'],
  from: 'pvepatch@example.org',
  timeout_ms: 5000,
  ...more,
});

describe('channel smtp (nodemailer against a real SMTP server on 127.0.0.1)', () => {
  let certs: TestCerts;
  before(() => {
    certs = makeCerts(dir);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('STARTTLS with the CA pinned, then AUTH with the password from its file', async () => {
    const s = await server({ tls: certs, auth: { user: 'pvepatch', pass: 'p@ss w0rd' } });
    const config = channel(s.port, {
      mode: 'starttls',
      ca_file: certs.caFile,
      username: 'pvepatch',
      password_file: passFile,
    });
    const done = await smtpChannel.send(config, outgoing('run-ok'), ctx);
    assert.match(
      done,
      new RegExp(
        `^mail to ops@example.org, oncall@example.org accepted by localhost:${s.port} \\(250 2.0.0 queued as TEST1\\)$`,
      ),
    );
    assert.equal(s.mails.length, 1);
    const [mail] = s.mails;
    assert.equal(mail?.tls, true, 'the mail went over TLS');
    assert.equal(mail?.user, 'pvepatch');
    assert.equal(mail?.from, 'pvepatch@example.org');
    assert.deepEqual(mail?.to, ['ops@example.org', 'oncall@example.org']);
    const parsed = parseMime(mail?.data ?? '');
    const m = renderMessage('run-ok', fixture('run-ok'));
    assert.equal(parsed.headers.get('subject'), m.title);
    assert.equal(parsed.headers.get('from'), '"pvepatch - pve1" <pvepatch@example.org>');
    assert.equal(parsed.headers.get('to'), 'ops@example.org, oncall@example.org');
    assert.equal(parsed.parts[0]?.body.replace(/\r\n/g, '\n'), m.text);
    assert.equal(parsed.parts[1]?.body.replace(/\r\n/g, '\n'), m.html);
  });

  it('implicit TLS (mode tls) with the CA pinned', async () => {
    const s = await server({ tls: certs, implicitTls: true });
    await smtpChannel.send(channel(s.port, { mode: 'tls', ca_file: certs.caFile }), outgoing('test'), ctx);
    assert.equal(s.mails[0]?.tls, true);
    assert.equal(parseMime(s.mails[0]?.data ?? '').headers.get('subject'), 'pvepatch test notification (pve1)');
  });

  it('refuses a certificate from another CA, saying to set ca-file; nothing is sent', async () => {
    const s = await server({ tls: certs });
    const err = await smtpChannel.send(channel(s.port, { mode: 'starttls' }), outgoing('test'), ctx).catch((e) => e);
    assert.equal(err.code, 'unreachable');
    assert.match(
      err.message,
      new RegExp(
        `^unable to send mail through SMTP server localhost:${s.port} - .*; the server's certificate is not trusted: set ca-file to the CA that issued it$`,
      ),
    );
    const other = await smtpChannel
      .send(channel(s.port, { mode: 'starttls', ca_file: certs.otherCaFile }), outgoing('test'), ctx)
      .catch((e) => e);
    assert.match(other.message, /certificate is not trusted/);
    assert.equal(s.mails.length, 0);
  });

  it('mode starttls refuses a server that offers no STARTTLS', async () => {
    const s = await server({});
    await assert.rejects(
      smtpChannel.send(channel(s.port, { mode: 'starttls', ca_file: certs.caFile }), outgoing('test'), ctx),
      {
        code: 'unreachable',
        message:
          /^unable to send mail through SMTP server localhost:\d+ - .*STARTTLS.*; the server offers no STARTTLS: use mode tls \(port 465\) or another server$/,
      },
    );
    assert.equal(s.mails.length, 0);
  });

  it('a wrong password fails with what to check, never quoting the password', async () => {
    const s = await server({ tls: certs, auth: { user: 'pvepatch', pass: 'other' } });
    const config = channel(s.port, {
      mode: 'starttls',
      ca_file: certs.caFile,
      username: 'pvepatch',
      password_file: passFile,
    });
    const err = await smtpChannel.send(config, outgoing('test'), ctx).catch((e) => e);
    assert.match(err.message, /; check username and password-file$/);
    assert.ok(!err.message.includes('w0rd'));
    assert.deepEqual(s.logins, [{ user: 'pvepatch', pass: 'p@ss w0rd' }]);
    assert.equal(s.mails.length, 0);
  });

  it('mode insecure sends in plain text without trying STARTTLS', async () => {
    const s = await server({ tls: certs });
    await smtpChannel.send(channel(s.port, { mode: 'insecure' }), outgoing('test'), ctx);
    assert.equal(s.mails[0]?.tls, false);
  });

  it('refuses a password file others may read, before connecting', async () => {
    const loose = join(dir, 'loose.pass');
    writeFileSync(loose, 'secret\n', { mode: 0o644 });
    const s = await server({ tls: certs, auth: { user: 'u', pass: 'secret' } });
    await assert.rejects(
      smtpChannel.send(
        channel(s.port, { mode: 'starttls', username: 'u', password_file: loose }),
        outgoing('test'),
        ctx,
      ),
      {
        code: 'config-invalid',
        message: `unable to use secret file '${loose}' - group or others may read or write it (mode 0644); run: chmod 600 ${loose}`,
      },
    );
    assert.deepEqual(s.logins, []);
  });
});
