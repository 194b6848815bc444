import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { type ChannelConfig, Notifier } from '../../daemon/notify/notifier.js';
import { notification, severityOf } from '../../daemon/notify/severity.js';
import { NOTIFY_EVENTS } from '../../daemon/notify/types.js';
import { fixture, tempDir } from './helpers.js';

const dir = tempDir('notifier');
const spool = join(dir, 'spool');
mkdirSync(spool);
const mailbox = join(dir, 'mailbox');
const sendmail = join(dir, 'sendmail');
writeFileSync(sendmail, `#!/bin/sh\ncat >> '${mailbox}'\n`);
chmodSync(sendmail, 0o755);

const channels: ChannelConfig[] = [
  { name: 'pbs', kind: 'proxmox-pbs', spool_dir: spool },
  { name: 'only-ok', kind: 'sendmail', sendmail_path: sendmail, events: ['run-ok'] },
  { name: 'errors', kind: 'sendmail', sendmail_path: sendmail, min_severity: 'error' },
  { name: 'off', kind: 'sendmail', sendmail_path: sendmail, disabled: true },
  { name: 'broken', kind: 'sendmail', sendmail_path: join(dir, 'absent') },
];
let lines: string[] = [];
const notifier = () =>
  new Notifier(channels, { hostname: 'pve1', log: (l) => lines.push(l), now: () => new Date('2026-12-07T08:00:00Z') });
const spooled = () => readdirSync(spool).map((f) => JSON.parse(readFileSync(join(spool, f), 'utf8')));

describe('Notifier', () => {
  beforeEach(() => {
    lines = [];
    for (const f of readdirSync(spool)) rmSync(join(spool, f));
    rmSync(mailbox, { force: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives each event its severity', () => {
    const got = Object.fromEntries(NOTIFY_EVENTS.map((e) => [e, severityOf(e, fixture(e) as never)]));
    assert.deepEqual(got, {
      'run-ok': 'info',
      'run-error': 'error',
      'run-refused': 'warning',
      'rollout-halted': 'error',
      'reboot-failed': 'error',
      'updates-available': 'notice',
      test: 'info',
    });
    assert.equal(severityOf('updates-available', { ...fixture('updates-available'), security_updates: 0 }), 'info');
  });

  it('tries every channel on its own: filters skip, a failure is logged and never stops the others', async () => {
    const n = notifier();
    const results = await n.notify(notification('run-error', fixture('run-error'), { 'job-id': 'nightly' }));
    assert.deepEqual(
      results.map((r) => [r.channel, r.outcome]),
      [
        ['pbs', 'sent'],
        ['only-ok', 'skipped'],
        ['errors', 'sent'],
        ['off', 'skipped'],
        ['broken', 'failed'],
      ],
    );
    assert.equal(results[1]?.message, "the channel does not take 'run-error' (events run-ok)");
    assert.equal(results[3]?.message, 'the channel is disabled');
    assert.match(results[4]?.message ?? '', /^unable to run '.*absent' - spawn .* ENOENT$/);
    assert.equal(lines.length, 3);
    lines.sort();
    assert.match(
      lines[0] ?? '',
      /^notification 'run-error' sent through channel 'errors' \(sendmail\): mail to <?root/,
    );
    assert.match(lines[1] ?? '', /^notification 'run-error' sent through channel 'pbs' \(proxmox-pbs\): queued as /);
    assert.match(
      lines[2] ?? '',
      /^unable to send notification 'run-error' through channel 'broken' \(sendmail\): unable to run/,
    );
    const [doc] = spooled();
    assert.deepEqual(doc.metadata, {
      severity: 'error',
      timestamp: Date.parse('2026-12-07T08:00:00Z') / 1000,
      'additional-fields': { 'job-id': 'nightly', type: 'pvepatch', hostname: 'pve1' },
    });
    assert.match(readFileSync(mailbox, 'utf8'), /^Subject: pvepatch run on pve1 failed: 1 of 2 guests failed$/m);
  });

  it('filters on min-severity', async () => {
    const results = await notifier().notify(notification('run-ok', fixture('run-ok')));
    assert.equal(results[2]?.outcome, 'skipped');
    assert.equal(results[2]?.message, "severity info is below the channel's min-severity error");
    assert.equal(results[1]?.outcome, 'sent');
  });

  it('escapes control characters in guest text and forces type=pvepatch', async () => {
    const data = fixture('reboot-failed');
    data.reason = 'agent said \u001b[2Jgone\r\nfake line';
    await notifier().notify(notification('reboot-failed', data, { type: 'other', hostname: 'node-b' }));
    const [doc] = spooled();
    assert.equal(doc.content.template.data.reason, 'agent said \\x1b[2Jgone\\r\\nfake line');
    assert.deepEqual(doc.metadata['additional-fields'], { type: 'pvepatch', hostname: 'node-b' });
  });

  it('still reaches Proxmox when a template does not fit the data; mail channels report the bug', async () => {
    const data = fixture('test') as unknown as Record<string, unknown>;
    delete data.channel;
    const results = await notifier().notify({ event: 'test', severity: 'info', data: data as never, fields: {} });
    assert.equal(results[0]?.outcome, 'sent');
    assert.equal(results[4]?.outcome, 'failed');
    assert.match(
      results[4]?.message ?? '',
      /^unable to render notification template 'pvepatch-test' - "channel" not defined.*report it$/,
    );
  });

  it('counts deliveries per channel in status()', async () => {
    const n = notifier();
    await n.notify(notification('run-ok', fixture('run-ok')));
    await n.notify(notification('run-error', fixture('run-error')));
    const status = n.status();
    assert.deepEqual(status[1], {
      name: 'only-ok',
      kind: 'sendmail',
      disabled: false,
      events: ['run-ok'],
      min_severity: 'info',
      sent: 1,
      failed: 0,
      last: { at: '2026-12-07T08:00:00.000Z', event: 'run-ok', ok: true },
    });
    assert.equal(status[4]?.failed, 2);
    assert.equal(status[4]?.last?.ok, false);
    assert.match(status[4]?.last?.error ?? '', /^unable to run/);
    assert.deepEqual(status[3]?.last, undefined);
  });

  it('test() sends the test event to every enabled channel, past their filters', async () => {
    const results = await notifier().test();
    assert.deepEqual(
      results.map((r) => [r.channel, r.outcome]),
      [
        ['pbs', 'sent'],
        ['only-ok', 'sent'],
        ['errors', 'sent'],
        ['broken', 'failed'],
      ],
    );
    assert.deepEqual(spooled()[0].content.template, {
      'template-name': 'pvepatch-test',
      data: { hostname: 'pve1', channel: 'pbs', at: '2026-12-07T08:00:00Z' },
    });
  });

  it('test(name) reaches a disabled channel; an unknown name is not-found', async () => {
    const results = await notifier().test('off');
    assert.deepEqual(
      results.map((r) => [r.channel, r.outcome]),
      [['off', 'sent']],
    );
    assert.match(readFileSync(mailbox, 'utf8'), /sent through channel 'off' at 2026-12-07T08:00:00Z/);
    await assert.rejects(notifier().test('nope'), {
      code: 'not-found',
      message:
        "unable to test notification channel 'nope' - no such channel (configured: pbs, only-ok, errors, off, broken)",
    });
  });
});
