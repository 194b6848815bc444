import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { finalState, RunLog, readRunLog } from '../../daemon/store/run-log.js';
import { StateStore } from '../../daemon/store/state.js';

describe('state store', () => {
  it('writes durably with mode 0600 and leaves no temp files behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvepatch-state-'));
    const store = new StateStore(dir);
    await store.start();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.setPendingHolds({ run_id: `r${i}`, vmid: 100 + i, node: 'pve1', driver: 'apt', holds: ['demo-lib'] }),
      ),
    );
    const onDisk = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    assert.equal(onDisk.pending_holds.length, 20);
    assert.equal(statSync(join(dir, 'state.json')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['state.json']);
    await store.setPendingHolds({ run_id: 'r3', vmid: 103, node: 'pve1', driver: 'apt', holds: [] });
    const again = new StateStore(dir);
    await again.start();
    assert.equal(again.data.pending_holds.length, 19);
    assert.equal(
      again.data.pending_holds.some((p) => p.vmid === 103),
      false,
    );
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
  });
});
