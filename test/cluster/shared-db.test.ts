import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  openDb,
  SHARED_FILE_BUDGET,
  type SharedDbOptions,
  SharedLow,
  withClusterLock,
} from '../../daemon/cluster/shared-db.js';
import { DurableJSONFile } from '../../daemon/store/durable-json-file.js';

interface Counter {
  version: 1;
  items: string[];
}

describe('shared lowdb files in cluster_dir', () => {
  let dir: string;
  let opts: SharedDbOptions;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pvepatch-shared-db-'));
    opts = { dir: join(dir, 'pve', 'pvepatch'), clusterDir: join(dir, 'pve') };
    mkdirSync(opts.dir, { recursive: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("two nodes changing one file at once lose none of each other's changes", async () => {
    const path = join(opts.dir, 'items.json');
    const a = new SharedLow<Counter>(path, { version: 1, items: [] }, opts);
    const b = new SharedLow<Counter>(path, { version: 1, items: [] }, opts);
    await Promise.all([a.read(), b.read()]);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => [
        a.update((d) => void d.items.push(`a${i}`)),
        b.update((d) => void d.items.push(`b${i}`)),
      ]).flat(),
    );
    const stored = JSON.parse(readFileSync(path, 'utf8')) as Counter;
    assert.equal(stored.items.length, 20);
    assert.deepEqual(new Set(stored.items).size, 20);
    // the cluster locks are gone again
    assert.deepEqual(existsSync(join(opts.clusterDir, 'priv', 'lock', 'pvepatch-items')), false);
  });

  it("refresh() reads another node's change and says whether there was one", async () => {
    const path = join(opts.dir, 'seen.json');
    const a = new SharedLow<Counter>(path, { version: 1, items: [] }, opts);
    const b = new SharedLow<Counter>(path, { version: 1, items: [] }, opts);
    await a.read();
    await b.read();
    assert.equal(await b.refresh(), false);
    await a.update((d) => void d.items.push('x'));
    assert.equal(await b.refresh(), true);
    assert.deepEqual(b.data.items, ['x']);
    assert.equal(await b.refresh(), false);
  });

  it('history beyond what pmxcfs holds is dropped oldest first; definitions that do not fit are refused', async () => {
    const big = 'x'.repeat(100 * 1024);
    const path = join(opts.dir, 'history.json');
    const dropped: string[] = [];
    const db = new SharedLow<Counter>(path, { version: 1, items: [] }, opts, (d) => {
      const gone = d.items.shift();
      if (gone !== undefined) dropped.push(gone.slice(0, 3));
      return gone !== undefined;
    });
    await db.read();
    for (let i = 0; i < 12; i++) await db.update((d) => void d.items.push(`${String(i).padStart(3, '0')}${big}`));
    const stored = readFileSync(path);
    assert.ok(stored.length <= SHARED_FILE_BUDGET, `${stored.length} bytes`);
    const kept = (JSON.parse(stored.toString()) as Counter).items.map((x) => x.slice(0, 3));
    assert.deepEqual(dropped, ['000', '001', '002']);
    assert.deepEqual(kept, ['003', '004', '005', '006', '007', '008', '009', '010', '011']);
    // without a way to shrink, a file over 1 MiB is refused with pmxcfs' limit named
    const plain = new SharedLow<Counter>(join(opts.dir, 'defs.json'), { version: 1, items: [] }, opts);
    await plain.read();
    await assert.rejects(
      plain.update((d) => void d.items.push('y'.repeat(1100 * 1024))),
      (err: Error) => /more than the 1048576 bytes pmxcfs allows/.test(err.message),
    );
  });

  it('without quorum a change is refused before anything is written', async () => {
    const path = join(opts.dir, 'frozen.json');
    const db = new SharedLow<Counter>(path, { version: 1, items: [] }, { ...opts, writable: () => false });
    await db.read();
    await assert.rejects(
      db.update((d) => void d.items.push('no')),
      (err: Error) => /no quorum: .* is read-only .*'pvecm status'/.test(err.message),
    );
    assert.equal(existsSync(path), false);
  });

  it("a change waits for another node's lock and gives up with a clear error", async () => {
    const lock = join(opts.clusterDir, 'priv', 'lock', 'pvepatch-busy');
    mkdirSync(lock, { recursive: true });
    try {
      await assert.rejects(
        withClusterLock('pvepatch-busy', { ...opts, lockWaitMs: 300 }, async () => undefined),
        (err: Error) => /cluster lock '.*pvepatch-busy' is held by another change; try again/.test(err.message),
      );
    } finally {
      rmSync(lock, { recursive: true });
    }
  });

  it("a node's state_dir file is moved into the cluster directory once, the old one kept aside", async () => {
    const stateDir = join(dir, 'state');
    mkdirSync(stateDir);
    writeFileSync(join(stateDir, 'moved.json'), '{"version":1,"items":["old"]}\n');
    const lines: string[] = [];
    const o = openDb<Counter>(
      join(stateDir, 'moved.json'),
      { version: 1, items: [] },
      { ...opts, log: (l) => lines.push(l) },
      (p) => new DurableJSONFile(p),
    );
    await o.prepare();
    await o.db.read();
    assert.deepEqual(o.db.data.items, ['old']);
    assert.equal(o.path, join(opts.dir, 'moved.json'));
    assert.ok(existsSync(join(stateDir, 'moved.json.moved-to-cluster')));
    assert.equal(existsSync(join(stateDir, 'moved.json')), false);
    assert.match(lines.join('\n'), /moved .*moved\.json to .*pvepatch\/moved\.json/);
    // a second start leaves the cluster's file alone
    writeFileSync(join(stateDir, 'moved.json'), '{"version":1,"items":["stale"]}\n');
    await o.prepare();
    assert.deepEqual((JSON.parse(readFileSync(o.path, 'utf8')) as Counter).items, ['old']);
  });
});
