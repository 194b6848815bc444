import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { finalState, RunLog, readRunLog } from '../../daemon/store/run-log.js';
import { StateStore } from '../../daemon/store/state.js';

const HOLD = { node: 'pve1', type: 'lxc', transport: 'pct', driver: 'apt' } as const;

describe('state store', () => {
  it('writes durably with mode 0600 and leaves no temp files behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvepatch-state-'));
    const store = new StateStore(dir);
    await store.start();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.setPendingHolds({ ...HOLD, run_id: `r${i}`, vmid: 100 + i, holds: ['demo-lib'] }),
      ),
    );
    const onDisk = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    assert.equal(onDisk.pending_holds.length, 20);
    assert.equal(statSync(join(dir, 'state.json')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir).sort(), ['runs', 'state.json']);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    await store.setPendingHolds({ ...HOLD, run_id: 'r3', vmid: 103, holds: [] });
    const again = new StateStore(dir);
    await again.start();
    assert.equal(again.data.pending_holds.length, 19);
    assert.equal(
      again.data.pending_holds.some((p) => p.vmid === 103),
      false,
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a version 1 file: holds were made through pct in containers, no snapshot records yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvepatch-state-'));
    const v1 = {
      version: 1,
      runs: [],
      pending_holds: [{ run_id: 'r', vmid: 5, node: 'n', driver: 'apt', holds: ['x'] }],
    };
    writeFileSync(join(dir, 'state.json'), JSON.stringify(v1));
    const store = new StateStore(dir);
    await store.start();
    assert.equal(store.data.version, 3);
    assert.deepEqual(store.data.snapshots, []);
    assert.deepEqual(store.data.pending_holds[0], { ...v1.pending_holds[0], type: 'lxc', transport: 'pct' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a damaged or foreign state file with what to do, and keeps it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvepatch-state-'));
    writeFileSync(join(dir, 'state.json'), '{"version": 1, "runs": [');
    await assert.rejects(new StateStore(dir).start(), {
      code: 'config-invalid',
      message: /unable to read .*state\.json - .*; move it aside to start with an empty state/,
    });
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 2, runs: 'x', pending_holds: [], snapshots: [] }));
    await assert.rejects(new StateStore(dir).start(), { message: /unable to use .*state\.json - runs: / });
    assert.equal(readFileSync(join(dir, 'state.json'), 'utf8').includes('"runs":"x"'), true, 'left as it was');
    rmSync(dir, { recursive: true, force: true });
  });

  it('records a snapshot by vmid and name through its states', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvepatch-state-'));
    const store = new StateStore(dir);
    await store.start();
    const rec = { run_id: 'r', vmid: 7, node: 'pve1', type: 'lxc', name: 'pvepatch-20260101-000000' } as const;
    await store.recordSnapshot({ ...rec, state: 'intended' });
    await store.recordSnapshot({ ...rec, state: 'requested', upid: 'UPID:x' });
    await store.recordSnapshot({ ...rec, state: 'created' });
    const again = new StateStore(dir);
    await again.start();
    assert.equal(again.data.snapshots.length, 1);
    assert.equal(again.data.snapshots[0]?.state, 'created');
    assert.equal(again.data.snapshots[0]?.upid, 'UPID:x', 'the UPID stays once known');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('run log', () => {
  it('ends with its final state and reads back numbered lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvepatch-log-'));
    const log = new RunLog(dir, 'PVEPATCH:pve1:6740A1B2:0001:run::cli:root@pam:');
    log.open();
    log.write('first');
    log.write('two\nlines\r\n');
    assert.equal(finalState(readRunLog(dir, 'PVEPATCH:pve1:6740A1B2:0001:run::cli:root@pam:').lines), undefined);
    log.finish('TASK WARNINGS: 1');
    const { total, lines } = readRunLog(dir, 'PVEPATCH:pve1:6740A1B2:0001:run::cli:root@pam:', 1, 2);
    assert.equal(total, 4);
    assert.deepEqual(lines, [
      { n: 2, t: 'two' },
      { n: 3, t: 'lines' },
    ]);
    assert.equal(
      finalState(readRunLog(dir, 'PVEPATCH:pve1:6740A1B2:0001:run::cli:root@pam:').lines),
      'TASK WARNINGS: 1',
    );
    assert.throws(() => log.finish('done'), /not a final task state/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('prefixes every line, escapes control characters, and caps its size but never the outcomes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvepatch-log-'));
    const id = 'PVEPATCH:pve1:6740A1B2:0002:run::cli:root@pam:';
    const log = new RunLog(dir, id, { maxBytes: 200 });
    log.open();
    log.write('TASK OK\n\x1b[31mred\r\x07', { prefix: 'CT 101: | ' });
    log.write('x'.repeat(300), { prefix: 'CT 101: | ' });
    log.write('more guest text', { prefix: 'CT 101: | ' });
    log.write('updated', { prefix: 'CT 101: ', essential: true });
    log.finish('TASK OK');
    assert.deepEqual(
      readRunLog(dir, id).lines.map((l) => l.t),
      [
        'CT 101: | TASK OK',
        'CT 101: | \\x1b[31mred\\r\\x07',
        'run log limit of 0 KiB reached - further output is left out (outcomes and the report are complete)',
        'CT 101: updated',
        'TASK OK',
      ],
    );
    rmSync(dir, { recursive: true, force: true });
  });
});
