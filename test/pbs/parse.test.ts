import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  describeTask,
  firstWord,
  MAX_LINE_CHARS,
  MAX_TASK_JSON_CHARS,
  MAX_VERSION_LINES,
  parseTaskListJson,
  parseVersionLines,
  resultLine,
  serverVersionOf,
} from '../../daemon/pbs/parse.js';

/** `proxmox-backup-manager versions --verbose` shape (border-less, header-less text table). */
const VERBOSE = [
  'proxmox-backup             3.4.0         running kernel: 6.8.12-9-pve',
  'proxmox-backup-server      3.4.1-1       running version: 3.4.1      ',
  'ifupdown2                  3.2.0-1+pmx11                             ',
  '',
].join('\n');

/** `task list --output-format json`: serde_json, compact, one line; worker_id may be null. */
const TASKS =
  '[{"endtime":null,"node":"pbs","pid":4242,"pstart":123456,"starttime":1765000000,"upid":"UPID:pbs:00001092:0001E240:00000000:69319E80:backup:store1\\\\x3avm-100:root@pam!pve:","user":"root@pam!pve","worker_id":"store1:vm/100","worker_type":"backup"},' +
  '{"node":"pbs","pid":1,"pstart":2,"starttime":3,"upid":"UPID:pbs:00000001:00000002:00000000:00000003:verify::root@pam:","user":"root@pam","worker_id":null,"worker_type":"verify","status":"OK","endtime":9,"future_field":[1]}]\n';

/** Whether text holds a character that escapeControls must have escaped (C0, DEL, C1, bidi controls). */
const CONTROL = {
  test: (text: string) =>
    [...text].some((ch) => {
      const c = ch.codePointAt(0) ?? 0;
      return c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
    }),
};

describe('PBS parsers', () => {
  it('reads the versions table and the server version', () => {
    const lines = parseVersionLines(VERBOSE);
    assert.equal(lines.length, 3);
    assert.equal(lines[1], 'proxmox-backup-server      3.4.1-1       running version: 3.4.1');
    assert.equal(serverVersionOf(lines), '3.4.1-1');
    assert.equal(
      serverVersionOf(parseVersionLines('proxmox-backup-server 3.4.1-1 running version: 3.4.1\n')),
      '3.4.1-1',
    );
    assert.equal(serverVersionOf(['proxmox-backup-server unknown running version: 3.4.1']), null);
    assert.equal(serverVersionOf(['proxmox-backup-serverX 1']), null);
  });

  it('caps and escapes what the guest prints as versions', () => {
    const many = parseVersionLines('x\n'.repeat(100_000));
    assert.equal(many.length, MAX_VERSION_LINES);
    const long = parseVersionLines(`proxmox-backup-server ${'9'.repeat(100_000)}`);
    assert.equal(long[0]?.length, MAX_LINE_CHARS);
    assert.deepEqual(parseVersionLines('proxmox-backup-server 1-1 \u001b[31mred\r\n'), [
      'proxmox-backup-server 1-1 \\x1b[31mred',
    ]);
  });

  it('reads a task list, ignoring unknown fields; null and optional fields become null', () => {
    const tasks = parseTaskListJson(TASKS.trim());
    assert.ok(tasks);
    assert.deepEqual(
      tasks.map((t) => [t.worker_type, t.worker_id, t.status, t.endtime]),
      [
        ['backup', 'store1:vm/100', null, null],
        ['verify', null, 'OK', 9],
      ],
    );
    assert.equal(describeTask(tasks[0]!), `backup store1:vm/100 (${tasks[0]?.upid})`);
    assert.deepEqual(parseTaskListJson('[]'), []);
  });

  it('refuses what is not a task list: other JSON, broken JSON, too big', () => {
    for (const bad of ['', 'null', '{}', '[{"upid":1}]', '[{"upid":"u","worker_type":"x"}]', '[', 'Error: x']) {
      assert.equal(parseTaskListJson(bad), null, bad);
    }
    const huge = `[${'{"upid":"u","worker_type":"backup","starttime":1},'.repeat(30_000)}{}]`;
    assert.ok(huge.length > MAX_TASK_JSON_CHARS);
    assert.equal(parseTaskListJson(huge), null);
    const tooMany = `[${Array.from({ length: 1001 }, () => '{"upid":"u","worker_type":"b","starttime":1}').join(',')}]`;
    assert.equal(parseTaskListJson(tooMany), null);
  });

  it('escapes hostile task fields when it names a task', () => {
    const [t] =
      parseTaskListJson(
        '[{"upid":"UPID:\\u001b[2J","worker_type":"backup\\u202e","starttime":1,"worker_id":"a\\nb"}]',
      ) ?? [];
    assert.ok(t);
    assert.equal(describeTask(t), 'backup\\u202e a\\nb (UPID:\\x1b[2J)');
  });

  it('firstWord and resultLine take one bounded, escaped piece', () => {
    assert.equal(firstWord('active\n'), 'active');
    assert.equal(firstWord('  failed  extra'), 'failed');
    assert.equal(firstWord(''), '');
    assert.equal(firstWord('x'.repeat(10_000)).length, 64);
    assert.equal(resultLine({ stdout: 'out', stderr: 'err one\nerr two' }), 'err one');
    assert.equal(resultLine({ stdout: 'out\nmore', stderr: '  ' }), 'out');
  });

  it('never throws and never returns control characters, whatever the guest prints', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), (text) => {
        for (const line of parseVersionLines(text)) assert.ok(!CONTROL.test(line), line);
        serverVersionOf(parseVersionLines(text));
        assert.ok(!CONTROL.test(firstWord(text)));
        assert.ok(!CONTROL.test(resultLine({ stdout: text, stderr: '' })));
        const tasks = parseTaskListJson(text);
        for (const t of tasks ?? []) assert.ok(!CONTROL.test(describeTask(t)));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            upid: fc.string({ unit: 'binary', maxLength: 80 }),
            worker_type: fc.string({ unit: 'binary', maxLength: 20 }),
            worker_id: fc.option(fc.string({ unit: 'binary', maxLength: 40 })),
            starttime: fc.integer(),
          }),
          { maxLength: 5 },
        ),
        (items) => {
          const tasks = parseTaskListJson(JSON.stringify(items));
          assert.ok(tasks);
          for (const t of tasks) assert.ok(!CONTROL.test(describeTask(t)));
        },
      ),
      { numRuns: 300 },
    );
  });
});
