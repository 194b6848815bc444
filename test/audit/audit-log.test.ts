import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type AuditInput, AuditLog } from '../../daemon/audit/audit-log.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pvepatch-audit-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const base: AuditInput = {
  user: 'root@pam',
  via: 'socket',
  source: 'unix',
  action: 'run.start',
  target: '101 102',
  outcome: 'ok',
};

const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();

describe('audit log', () => {
  it('appends JSON lines to audit.log with mode 0600', async () => {
    const dir = tmp();
    const log = new AuditLog(dir, { noSync: true });
    await log.record({ ...base, time: at(1) });
    await log.record({ ...base, time: at(2), action: 'run.cancel', target: 'run:abc', outcome: 'not-found' });
    const file = join(dir, 'audit.log');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.deepEqual(JSON.parse(lines[1]!), {
      time: at(2),
      user: 'root@pam',
      via: 'socket',
      source: 'unix',
      action: 'run.cancel',
      target: 'run:abc',
      outcome: 'not-found',
    });
    log.close();
  });

  it('keeps what another writer appended (O_APPEND) and what an earlier daemon wrote', async () => {
    const dir = tmp();
    const file = join(dir, 'audit.log');
    writeFileSync(file, `${JSON.stringify({ ...base, time: at(0) })}\n`, { mode: 0o600 });
    const log = new AuditLog(dir, { noSync: true });
    await log.record({ ...base, time: at(1) });
    writeFileSync(file, `${JSON.stringify({ ...base, time: at(2), user: 'other@pve' })}\n`, { flag: 'a' });
    await log.record({ ...base, time: at(3) });
    const times = log.read().entries.map((e) => e.time);
    assert.deepEqual(times, [at(3), at(2), at(1), at(0)]);
    log.close();
  });

  it('writes concurrent records whole, one per line, in call order', async () => {
    const dir = tmp();
    const log = new AuditLog(dir, { noSync: true });
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.record({ ...base, time: at(i), target: `t${i}` })));
    const lines = readFileSync(join(dir, 'audit.log'), 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 200);
    lines.forEach((l, i) => {
      assert.equal(JSON.parse(l).target, `t${i}`);
    });
    log.close();
  });

  it('rotates by size, keeps N files, and reads newest first across them', async () => {
    const dir = tmp();
    const log = new AuditLog(dir, { maxBytes: 2048, keep: 3, noSync: true });
    const n = 200;
    for (let i = 0; i < n; i++) await log.record({ ...base, time: at(i), target: `guest-${i}` });
    log.close();
    for (const f of ['audit.log', 'audit.log.1', 'audit.log.2', 'audit.log.3']) {
      assert.ok(existsSync(join(dir, f)), f);
      assert.ok(statSync(join(dir, f)).size <= 2048, `${f} within the cap`);
    }
    assert.ok(!existsSync(join(dir, 'audit.log.4')), 'no more than keep rotated files');
    const again = new AuditLog(dir, { maxBytes: 2048, keep: 3, noSync: true });
    const all = again.read({ limit: 1000 });
    // the oldest were dropped with the oldest file; what is left is a contiguous newest run
    assert.ok(all.total > 20 && all.total < n, `kept ${all.total}`);
    const targets = all.entries.map((e) => Number(e.target.slice(6)));
    assert.deepEqual(
      targets,
      Array.from({ length: all.total }, (_, i) => n - 1 - i),
    );
    // the page window counts across file boundaries
    const page = again.read({ start: 5, limit: 30 });
    assert.equal(page.total, all.total);
    assert.deepEqual(
      page.entries.map((e) => e.target),
      all.entries.slice(5, 35).map((e) => e.target),
    );
    // a new record after reopening goes on in audit.log
    await again.record({ ...base, time: at(n), target: 'guest-new' });
    assert.equal(again.read({ limit: 1 }).entries[0]!.target, 'guest-new');
    again.close();
  });

  it('filters by time, user and action (exact or family)', async () => {
    const dir = tmp();
    const log = new AuditLog(dir, { noSync: true });
    const actions = ['run.start', 'run.cancel', 'agent.ensure', 'plan.refresh', 'settings.change'];
    for (let i = 0; i < 50; i++) {
      await log.record({
        ...base,
        time: at(i),
        user: i % 2 ? 'root@pam' : 'ops@pve!ci',
        via: i % 2 ? 'socket' : 'https',
        action: actions[i % actions.length]!,
        target: String(i),
      });
    }
    const ts = (r: { entries: { target: string }[] }) => r.entries.map((e) => Number(e.target));
    assert.deepEqual(ts(log.read({ since: at(45) })), [49, 48, 47, 46, 45]);
    assert.deepEqual(ts(log.read({ until: at(2) })), [2, 1, 0]);
    assert.deepEqual(ts(log.read({ since: at(10), until: at(13) })), [13, 12, 11, 10]);
    assert.deepEqual(ts(log.read({ since: new Date(Date.parse(at(48))) })), [49, 48]);
    const ci = log.read({ user: 'ops@pve!ci', limit: 3 });
    assert.equal(ci.total, 25);
    assert.deepEqual(ts(ci), [48, 46, 44]);
    assert.equal(log.read({ action: 'run.start' }).total, 10);
    assert.equal(log.read({ action: 'run.*' }).total, 20);
    assert.equal(log.read({ action: 'run.' }).total, 20);
    assert.equal(log.read({ action: 'run' }).total, 0);
    assert.deepEqual(ts(log.read({ action: 'agent.ensure', user: 'root@pam', since: at(20) })), [47, 37, 27]);
    log.close();
  });

  it('escapes and caps hostile strings so every entry stays one line', async () => {
    const dir = tmp();
    const log = new AuditLog(dir, { noSync: true });
    const hostile = 'x\n{"time":"2000-01-01T00:00:00.000Z","action":"run.start"}\r\u001b[31m\u0000\u2028\u202e"\\';
    await log.record({
      ...base,
      time: at(1),
      user: hostile,
      source: hostile,
      action: hostile,
      target: 'T'.repeat(100_000),
      outcome: hostile,
      detail: `😀${'d'.repeat(10_000)}`,
    });
    const text = readFileSync(join(dir, 'audit.log'), 'utf8');
    assert.equal(text.split('\n').length, 2, 'one line and its newline');
    // nothing a terminal acts on, raw, in the file
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point of the check
    assert.doesNotMatch(text.slice(0, -1), /[\u0000-\u001f\u007f\u2028\u202e]/);
    const [e] = log.read().entries;
    assert.ok(e);
    assert.equal(e.user.includes('\n'), false);
    assert.ok(e.user.startsWith('x\\n{"time"'), 'newline shown as an escape, the quote kept as text');
    assert.ok(e.user.includes('\\x1b[31m') && e.user.includes('\\x00') && e.user.includes('\\u202e'));
    assert.ok(e.target.length <= 1024 && e.target.endsWith('…'));
    assert.ok(e.action.length <= 64);
    assert.ok(e.detail!.length <= 2048 && e.detail!.startsWith('😀'));
    assert.equal(log.read().total, 1, 'the injected JSON did not become a second entry');
    log.close();
  });

  it('reads bounded pages and skips lines a crash cut short', async () => {
    const dir = tmp();
    const log = new AuditLog(dir, { noSync: true });
    for (let i = 0; i < 3000; i++) await log.record({ ...base, time: at(i), target: String(i) });
    log.close();
    writeFileSync(join(dir, 'audit.log'), '{"time":"2026-01-01T01:00:00.000Z","act', { flag: 'a' });
    const r = new AuditLog(dir, { noSync: true }).read({ limit: 100_000 });
    assert.equal(r.total, 3000);
    assert.equal(r.entries.length, 1000, 'a page is capped at 1000 entries');
    assert.equal(r.entries[0]!.target, '2999');
    assert.equal(new AuditLog(dir).read({ limit: 0 }).entries.length, 0);
    // the next daemon ends the cut line before its first entry
    const next = new AuditLog(dir, { noSync: true });
    await next.record({ ...base, time: at(5000), target: 'after-crash' });
    const again = next.read({ limit: 2 });
    assert.equal(again.total, 3001);
    assert.equal(again.entries[0]!.target, 'after-crash');
    next.close();
  });
});
