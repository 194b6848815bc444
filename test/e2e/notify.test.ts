import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NotifyView } from '../../daemon/notify/service.js';
import { type Received, type Receiver, reply, startReceiver } from '../notify/receiver.js';
import { type Env, startEnv } from './harness.js';

const SECRET = 'hmac-secret-for-the-test';

/**
 * Notifications from the daemon through a real webhook receiver on 127.0.0.1: a run's outcome
 * signed and rendered from its template, a report schedule's pending updates, `notify test` and
 * `notify status`, and a channel that fails.
 */
describe('notifications from the daemon', () => {
  let env: Env;
  let hook: Receiver;
  before(async () => {
    hook = await startReceiver((r, _n, res) => reply(res, r.path === '/bad' ? 400 : 200, 'ok'));
    env = await startEnv({
      guests: [{ vmid: 161 }, { vmid: 162 }],
      beforeDaemon: async ({ dir }) => {
        const secret = join(dir, 'ops.secret');
        writeFileSync(secret, `${SECRET}\n`, { mode: 0o600 });
        writeFileSync(
          join(dir, 'notifications.conf'),
          [
            'webhook: ops',
            `\turl ${hook.url}/hook`,
            `\tsecret-file ${secret}`,
            '',
            'webhook: bad',
            `\turl ${hook.url}/bad`,
            '\tevents test',
            '',
          ].join('\n'),
          { mode: 0o600 },
        );
      },
    });
  });
  after(async () => {
    await env?.close();
    await hook?.close();
  });
  const json = async <T>(...argv: string[]): Promise<T> => {
    const r = await env.cli('--output-format', 'json', ...argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
    return JSON.parse(r.out) as T;
  };
  const waitFor = async (pred: (r: Received) => boolean): Promise<Received> => {
    for (let i = 0; i < 100; i++) {
      const got = hook.requests.find(pred);
      if (got) return got;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no such request among ${hook.requests.map((r) => `${r.path} ${r.body.slice(0, 80)}`).join('; ')}`);
  };
  const body = (r: Received) => JSON.parse(r.body) as Record<string, unknown> & { data: Record<string, unknown> };

  it("sends a run's outcome, signed and rendered from its template", async () => {
    const run = await json<{ id: string }>('run', '161');
    const got = await waitFor((r) => r.path === '/hook' && body(r).event === 'run-ok');
    const ts = String(got.headers['x-pvepatch-timestamp']);
    const mac = createHmac('sha256', SECRET).update(`${ts}.${got.body}`).digest('hex');
    assert.equal(got.headers['x-pvepatch-signature'], `sha256=${mac}`);
    const b = body(got);
    assert.equal(b.severity, 'info');
    assert.equal(b.data.run_id, run.id);
    assert.equal(b.title, 'pvepatch run on pve1: 1 of 1 guests updated');
    assert.ok(String(b.message).includes(run.id), String(b.message));
    assert.match(String(b.message), /^ {8}demo-app: 1\.0 -> 1\.1$/m);
    assert.deepEqual((b.fields as Record<string, string>).type, 'pvepatch');
    assert.ok(!hook.requests.some((r) => r.path === '/bad'), "'bad' takes only the test event");
  });

  it('notifies the pending updates a report schedule found', async () => {
    await env.lab.setRepo('v3', { update: true });
    await json('schedule', 'add', 'report', '161', '162', '--cron', '0 6 * * *', '--window', '60');
    await json('schedule', 'run', 'report');
    const got = await waitFor((r) => r.path === '/hook' && body(r).event === 'updates-available');
    const d = body(got).data as { with_updates: number; updates: number; guest_list: { vmid: number }[] };
    assert.equal(d.with_updates, 2);
    assert.equal(d.updates, 2 + 5);
    assert.deepEqual(d.guest_list.map((g) => g.vmid).sort(), [161, 162]);
    await json('schedule', 'rm', 'report');
  });

  it("notify test reaches every channel, notify status shows each one's last delivery, and a failing channel says why", async () => {
    const t = await env.cli('notify', 'test');
    assert.equal(t.code, 6, t.out);
    assert.match(t.out, /^ops \(webhook\): sent/m);
    assert.match(t.out, /^bad \(webhook\): failed - .*400/m);
    await waitFor((r) => r.path === '/hook' && body(r).event === 'test');
    const one = await env.cli('notify', 'test', '--channel', 'ops');
    assert.equal(one.code, 0, one.out);
    const unknown = await env.cli('notify', 'test', '--channel', 'nope');
    assert.equal(unknown.code, 3);
    assert.match(unknown.err, /no such channel \(configured: ops, bad\)/);
    const v = await json<NotifyView>('notify', 'status');
    assert.equal(v.source, 'file');
    const ops = v.channels.find((c) => c.name === 'ops')!;
    assert.equal(ops.failed, 0);
    assert.ok(ops.sent >= 4, `run-ok, updates-available, two tests: ${ops.sent}`);
    const bad = v.channels.find((c) => c.name === 'bad')!;
    assert.equal(bad.last?.ok, false);
    assert.match(bad.last?.error ?? '', /400/);
    assert.ok(!JSON.stringify(v).includes(SECRET), 'no secret in the status');
    const audit = await json<{ action: string }[]>('audit', '--action', 'notify.*');
    assert.equal(audit.length, 3);
  });
});
