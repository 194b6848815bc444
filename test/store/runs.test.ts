import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { runLogPath } from '../../daemon/store/run-log.js';
import { GUEST_HISTORY, RunStore } from '../../daemon/store/runs.js';
import { type RunSummary, StateStore } from '../../daemon/store/state.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pvepatch-runs-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function run(i: number, extra: Partial<RunSummary> = {}): RunSummary {
  const t = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  return {
    id: `PVEPATCH:pve1:${i.toString(16).toUpperCase().padStart(8, '0')}:0000:run::cli:root@pam:`,
    state: 'ok',
    started_at: t,
    ended_at: t,
    selector: 'all',
    dry_run: false,
    exclude: [],
    guests: {},
    ...extra,
  };
}

describe('run store', () => {
  it("keeps each guest's newest runs with its outcome, newest first, bounded, across a restart", async () => {
    const dir = tempDir();
    const store = new RunStore(join(dir, 'runs'), dir, () => 1000);
    await store.start();
    for (let i = 0; i < GUEST_HISTORY + 5; i++)
      await store.put(
        run(i, { guests: i % 2 === 0 ? { '101': 'updated' } : { '101': 'failed', '102': 'up-to-date' } }),
      );
    const h = store.historyOf(101);
    assert.equal(h.length, GUEST_HISTORY);
    assert.deepEqual(
      h.slice(0, 3).map((r) => [r.id, r.outcome]),
      [
        [run(GUEST_HISTORY + 4).id, 'updated'],
        [run(GUEST_HISTORY + 3).id, 'failed'],
        [run(GUEST_HISTORY + 2).id, 'updated'],
      ],
    );
    assert.deepEqual(
      store.historyOf(102).map((r) => r.outcome),
      Array(Math.ceil((GUEST_HISTORY + 5) / 2) - 1).fill('up-to-date'),
    );
    assert.deepEqual(store.historyOf(999), []);
    const again = new RunStore(join(dir, 'runs'), dir, () => 1000);
    await again.start();
    assert.deepEqual(again.historyOf(101), h);
  });

  it('pages newest first with the total, and reads the same runs back after a restart', async () => {
    const dir = tempDir();
    const store = new RunStore(join(dir, 'runs'), dir, () => 1000);
    await store.start();
    for (let i = 0; i < 30; i++) await store.put(run(i, { guests: { '101': 'updated', '102': 'failed' } }));
    const first = store.page(0, 10);
    assert.equal(first.total, 30);
    assert.deepEqual(
      first.rows.map((r) => r.id),
      Array.from({ length: 10 }, (_, k) => run(29 - k).id),
    );
    assert.deepEqual(first.rows[0]!.counts, { updated: 1, failed: 1 });
    assert.equal(first.rows[0]!.guest_count, 2);
    assert.equal('guests' in first.rows[0]!, false, 'a row has no per-guest map');
    assert.deepEqual(
      store.page(25, 10).rows.map((r) => r.id),
      [4, 3, 2, 1, 0].map((i) => run(i).id),
    );
    assert.deepEqual(store.page(40, 10).rows, []);

    const again = new RunStore(join(dir, 'runs'), dir, () => 1000);
    await again.start();
    assert.deepEqual(again.page(0, 30), store.page(0, 30));
    assert.deepEqual(again.get(run(7).id), run(7, { guests: { '101': 'updated', '102': 'failed' } }));
    assert.equal(again.get('PVEPATCH:nope:'), undefined);
  });

  it("keeps each guest's last run, last success and last reboot status, whatever order runs are written in", async () => {
    const dir = tempDir();
    const store = new RunStore(join(dir, 'runs'), dir, () => 1000);
    await store.start();
    await store.put(run(2, { guests: { '101': 'failed' }, reboots: { '101': 'timeout' } }));
    await store.put(run(1, { guests: { '101': 'updated', '102': 'up-to-date' }, reboots: { '101': 'completed' } }));
    await store.put(run(3, { dry_run: true, guests: { '102': 'would-update' } }));
    assert.deepEqual(store.lastRunOf(101), { id: run(2).id, outcome: 'failed', ended_at: run(2).ended_at });
    assert.equal(store.lastRunOf(102)?.outcome, 'would-update');
    assert.equal(store.lastRunOf(999), null);
    assert.equal(store.rebootOf(101), 'timeout', 'from the newest run that rebooted it');
    assert.deepEqual(
      [...store.lastSuccess()],
      [
        [101, Date.parse(run(1).ended_at!)],
        [102, Date.parse(run(1).ended_at!)],
      ],
      'dry runs and failures are no success',
    );
    assert.deepEqual([...store.states()], ['ok', 'ok', 'ok']);
  });

  it('deletes the oldest finished runs past keep with their log and report, never a running one', async () => {
    const dir = tempDir();
    const logs = join(dir, 'logs');
    const store = new RunStore(join(dir, 'runs'), logs, () => 10);
    await store.start();
    mkdirSync(logs);
    await store.put(run(0, { state: 'running', ended_at: undefined }));
    for (let i = 1; i <= 14; i++) {
      writeFileSync(runLogPath(logs, run(i).id), 'TASK OK\n');
      writeFileSync(join(logs, `${run(i).id}.json`), '{}');
      await store.put(run(i));
    }
    assert.equal(store.size, 10);
    const kept = store.page(0, 100).rows.map((r) => r.id);
    assert.ok(kept.includes(run(0).id), 'the running run stays');
    assert.deepEqual(
      kept.slice(0, 9),
      [14, 13, 12, 11, 10, 9, 8, 7, 6].map((i) => run(i).id),
    );
    for (const i of [1, 2, 3, 4, 5]) {
      assert.equal(store.get(run(i).id), undefined, `run ${i} is gone`);
      assert.equal(existsSync(runLogPath(logs, run(i).id)), false, `log of run ${i} deleted`);
      assert.equal(existsSync(join(logs, `${run(i).id}.json`)), false, `report of run ${i} deleted`);
    }
    assert.equal(existsSync(runLogPath(logs, run(6).id)), true);
    assert.equal(readdirSync(join(dir, 'runs')).length, 10);
  });

  it('serialises writes of one run: the last state written is the one on disk', async () => {
    const dir = tempDir();
    const store = new RunStore(join(dir, 'runs'), dir, () => 1000);
    await store.start();
    const r = run(1, { state: 'running', ended_at: undefined });
    const writes: Promise<void>[] = [];
    for (let g = 0; g < 50; g++) {
      r.guests[String(100 + g)] = 'updated';
      writes.push(store.put(r));
    }
    r.state = 'ok';
    writes.push(store.put(r));
    await Promise.all(writes);
    const [file] = readdirSync(join(dir, 'runs'));
    const onDisk = JSON.parse(readFileSync(join(dir, 'runs', file!), 'utf8')) as RunSummary;
    assert.equal(onDisk.state, 'ok');
    assert.equal(Object.keys(onDisk.guests).length, 50);
    assert.equal(store.running().length, 0);
  });

  it('refuses a damaged run file with its path and what to do', async () => {
    const dir = tempDir();
    const store = new RunStore(join(dir, 'runs'), dir, () => 1000);
    await store.start();
    writeFileSync(join(dir, 'runs', 'x.json'), '{"id": 1');
    await assert.rejects(new RunStore(join(dir, 'runs'), dir, () => 1000).start(), {
      code: 'config-invalid',
      message: /unable to read run record .*x\.json - .*; move it aside to start without it/,
    });
    writeFileSync(join(dir, 'runs', 'x.json'), '{"id": "a"}');
    await assert.rejects(new RunStore(join(dir, 'runs'), dir, () => 1000).start(), {
      message: /unable to use run record .*x\.json - it lacks id, state or started_at/,
    });
  });

  it('moves the runs of a version 2 state.json into runs/ once, and state.json keeps the rest', async () => {
    const dir = tempDir();
    const legacy = [run(1, { guests: { '101': 'updated' } }), run(2, { state: 'running', ended_at: undefined })];
    const hold = { run_id: 'r', vmid: 5, node: 'n', driver: 'apt', holds: ['x'], type: 'lxc', transport: 'pct' };
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify({ version: 2, runs: legacy, pending_holds: [hold], snapshots: [], reboots: [] }),
    );
    const store = new StateStore(dir);
    await store.start();
    assert.deepEqual(store.runs.get(legacy[0]!.id), legacy[0]);
    assert.deepEqual(
      store.runs.running().map((r) => r.id),
      [legacy[1]!.id],
    );
    const onDisk = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    assert.equal(onDisk.version, 3);
    assert.equal('runs' in onDisk, false);
    assert.deepEqual(onDisk.pending_holds, [hold]);
    const again = new StateStore(dir);
    await again.start();
    assert.equal(again.runs.size, 2);
  });
});

describe('run store: a running run', () => {
  it('is written at once when it starts and when it ends, and catches up within a second while it runs', async () => {
    const dir = tempDir();
    const store = new RunStore(join(dir, 'runs'), dir, () => 1000);
    await store.start();
    const r = run(1, { state: 'running', ended_at: undefined });
    await store.put(r);
    const onDisk = () =>
      JSON.parse(readFileSync(join(dir, 'runs', readdirSync(join(dir, 'runs'))[0]!), 'utf8')) as RunSummary;
    assert.equal(onDisk().state, 'running', 'on disk from its start (recovery finds it)');
    for (const vmid of ['101', '102', '103']) {
      r.guests[vmid] = 'updated';
      await store.put(r);
    }
    assert.deepEqual(store.page(0, 1).rows[0]!.counts, { updated: 3 }, 'the list is current');
    assert.deepEqual(store.get(r.id)?.guests, r.guests);
    assert.deepEqual(onDisk().guests, {}, 'not yet written');
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.deepEqual(onDisk().guests, { '101': 'updated', '102': 'updated', '103': 'updated' }, 'caught up');
    r.guests['104'] = 'failed';
    Object.assign(r, { state: 'error', ended_at: new Date().toISOString() });
    await store.put(r);
    assert.equal(onDisk().state, 'error');
    assert.equal(Object.keys(onDisk().guests).length, 4);
  });
});
