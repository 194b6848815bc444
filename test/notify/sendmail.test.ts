import assert from 'node:assert/strict';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sendmailAvailable, sendmailChannel } from '../../daemon/notify/channels/sendmail.js';
import { renderMessage } from '../../daemon/notify/render.js';
import { fixture, outgoing, tempDir } from './helpers.js';
import { parseMime } from './mime.js';

const dir = tempDir('sendmail');
const argvFile = join(dir, 'argv');
const stdinFile = join(dir, 'stdin');
const script = (name: string, body: string) => {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
};
// a stand-in for /usr/sbin/sendmail that keeps its argv and the message it was given
const sendmail = script('sendmail', `printf '%s\\n' "$@" > '${argvFile}'\ncat > '${stdinFile}'`);
const failing = script('sendmail-fail', 'cat >/dev/null\necho "sendmail: fatal: no such user: root" >&2\nexit 75');
const ctx = { hostname: 'pve1' };

describe('channel sendmail (mail to root through the local MTA)', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('pipes a multipart text+HTML mail to sendmail -t -oi, to root from pvepatch@<host>', async () => {
    const done = await sendmailChannel.send(
      { name: 'm', kind: 'sendmail', sendmail_path: sendmail },
      outgoing('run-error'),
      ctx,
    );
    assert.equal(done, `mail to root handed to ${sendmail}`);
    assert.equal(readFileSync(argvFile, 'utf8'), '-t\n-oi\n');
    const mail = parseMime(readFileSync(stdinFile, 'utf8'));
    const expected = renderMessage('run-error', fixture('run-error'));
    assert.equal(mail.headers.get('from'), '"pvepatch - pve1" <pvepatch@pve1>');
    assert.equal(mail.headers.get('to'), '<root>'); // the MTA qualifies a local user
    assert.equal(mail.headers.get('subject'), 'pvepatch run on pve1 failed: 1 of 2 guests failed');
    assert.equal(mail.headers.get('auto-submitted'), 'auto-generated');
    assert.equal(mail.headers.get('x-pvepatch-event'), 'run-error');
    assert.equal(mail.headers.get('x-pvepatch-severity'), 'error');
    assert.match(mail.headers.get('content-type') ?? '', /^multipart\/alternative;/);
    assert.deepEqual(
      mail.parts.map((p) => p.headers.get('content-type')),
      ['text/plain; charset=utf-8', 'text/html; charset=utf-8'],
    );
    assert.equal(mail.parts[0]?.body, expected.text);
    assert.equal(mail.parts[1]?.body, expected.html);
    assert.ok(!readFileSync(stdinFile, 'utf8').includes('\r\n'), 'sendmail gets LF line ends');
  });

  it('sends to the configured recipients and sender', async () => {
    await sendmailChannel.send(
      {
        name: 'm',
        kind: 'sendmail',
        sendmail_path: sendmail,
        mailto: ['ops@example.org', 'admin'],
        from: 'patch@example.org',
      },
      outgoing('test'),
      ctx,
    );
    const mail = parseMime(readFileSync(stdinFile, 'utf8'));
    assert.equal(mail.headers.get('to'), 'ops@example.org, <admin>');
    assert.equal(mail.headers.get('from'), '"pvepatch - pve1" <patch@example.org>');
    assert.equal(mail.headers.get('subject'), 'pvepatch test notification (pve1)');
  });

  it("fails with sendmail's last stderr line and what to do", async () => {
    await assert.rejects(
      sendmailChannel.send({ name: 'm', kind: 'sendmail', sendmail_path: failing }, outgoing('test'), ctx),
      {
        code: 'unreachable',
        message: `unable to send mail through ${failing} - sendmail: fatal: no such user: root; check the local MTA (postfix) and its log`,
      },
    );
  });

  it('fails when there is no sendmail at all', async () => {
    const absent = join(dir, 'absent');
    await assert.rejects(
      sendmailChannel.send({ name: 'm', kind: 'sendmail', sendmail_path: absent }, outgoing('test'), ctx),
      new RegExp(`unable to run '${absent}' - spawn ${absent} ENOENT`),
    );
    assert.equal(sendmailAvailable(absent), false);
    assert.equal(sendmailAvailable(sendmail), true);
  });
});
