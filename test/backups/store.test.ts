import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { BackupResultStore, KEEP_PER_VMID } from '../../daemon/backups/store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'pvepatch-backups-'));
  dirs.push(d);
  return d;
};
const result = (vmid: number | null, hour: number, success = true) => ({
  target: null,
  vmid,
  job_id: `job-${hour}`,
  success,
  warnings: 0,
  at: new Date(Date.UTC(2026, 11, 1, hour)).toISOString(),
});

describe('backup result store', () => {
  it('keeps the newest 20 per vmid, lists newest first, survives a restart', async () => {
    const dir = tmp();
    const store = new BackupResultStore(dir);
    await store.start();
    for (let h = 0; h < KEEP_PER_VMID + 3; h++) await store.record(result(101, h), 'root@pam');
    await store.record(result(102, 1, false), 'root@pam');
    await store.record(result(null, 2), 'root@pam');
    const again = new BackupResultStore(dir);
    await again.start();
    const mine = again.list(101);
    assert.equal(mine.length, KEEP_PER_VMID);
    assert.equal(mine[0]?.job_id, `job-${KEEP_PER_VMID + 2}`);
    assert.equal(mine.at(-1)?.job_id, 'job-3');
    assert.equal(again.list().length, KEEP_PER_VMID + 2);
    assert.equal(again.lastSuccess(102), undefined);
    assert.equal(again.list(null)[0]?.job_id, 'job-2');
    assert.equal(mine[0]?.reported_by, 'root@pam');
  });

  it('refuses a bad result, naming the field, and a damaged file with what to do', async () => {
    const dir = tmp();
    const store = new BackupResultStore(dir);
    await store.start();
    await assert.rejects(store.record({ ...result(101, 1), vmid: 5 }, 'x'), /vmid/);
    await assert.rejects(store.record({ ...result(101, 1), at: '1 Dec' }, 'x'), /at/);
    writeFileSync(join(dir, 'backups.json'), '{"version":1,"results":[{"vmid":"x"}]}');
    await assert.rejects(new BackupResultStore(dir).start(), /unable to use .*backups\.json - .*fix or move it aside/);
  });
});
