import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PMXCFS_MAX_FILE_SIZE } from '../../daemon/cluster/cluster-fs.js';
import {
  readSharedJson,
  readSharedText,
  removeSharedFile,
  writeSharedFile,
  writeSharedJson,
} from '../../daemon/cluster/shared-file.js';
import { PmxcfsDir } from './pmxcfs-dir.js';

describe('shared files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pvepatch-shared-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes JSON through a temporary file, creates parents, reads it back; missing reads as undefined', async () => {
    const path = join(dir, 'pvepatch', 'schedules.json');
    assert.equal(await readSharedJson(path), undefined);
    await writeSharedJson(path, { a: 1 });
    assert.deepEqual(await readSharedJson(path), { a: 1 });
    assert.deepEqual(await readdir(join(dir, 'pvepatch')), ['schedules.json'], 'no temporary file left');
    await removeSharedFile(path);
    await removeSharedFile(path);
    assert.equal(await readSharedText(path), undefined);
  });

  it('refuses more than 1 MiB before writing, naming file and size', async () => {
    const path = join(dir, 'big.txt');
    await assert.rejects(writeSharedFile(path, 'x'.repeat(PMXCFS_MAX_FILE_SIZE + 1)), (err: Error) => {
      assert.match(err.message, /big\.txt' - 1048577 bytes is more than the 1048576 bytes pmxcfs allows/);
      return true;
    });
    assert.equal(await readSharedText(path), undefined);
    await writeSharedFile(path, 'x'.repeat(PMXCFS_MAX_FILE_SIZE));
    assert.equal((await readSharedText(path))?.length, PMXCFS_MAX_FILE_SIZE);
  });

  it('refuses to read a file over 1 MiB', async () => {
    const path = join(dir, 'huge.txt');
    await writeFile(path, Buffer.alloc(PMXCFS_MAX_FILE_SIZE + 10));
    await assert.rejects(readSharedText(path), /huge\.txt' - it is larger than 1048576 bytes/);
  });

  it('never shows a concurrent reader a partial file', async () => {
    const path = join(dir, 'status.json');
    await writeSharedJson(path, { n: 0, pad: '' });
    let stop = false;
    let reads = 0;
    const reader = (async () => {
      while (!stop) {
        const v = (await readSharedJson(path)) as { n: number };
        assert.equal(typeof v.n, 'number');
        reads++;
      }
    })();
    for (let n = 1; n <= 40; n++) await writeSharedJson(path, { n, pad: 'y'.repeat(400_000 + n * 1000) });
    stop = true;
    await reader;
    assert.ok(reads > 0);
  });

  it('says "no quorum" when pmxcfs refuses writes, and leaves nothing behind', async () => {
    const cfs = await PmxcfsDir.create();
    try {
      const fs = cfs.nodeFs('pve1', 1);
      const path = join(cfs.root, 'pvepatch', 'defs.json');
      await writeSharedJson(path, { v: 1 }, { fs, clusterDir: cfs.root });
      cfs.setQuorate(false);
      await assert.rejects(writeSharedJson(path, { v: 2 }, { fs, clusterDir: cfs.root }), (err: Error) => {
        assert.ok(err.message.includes(`defs.json' - no quorum: ${cfs.root} is read-only`), err.message);
        return true;
      });
      assert.deepEqual(await readSharedJson(path, { fs }), { v: 1 }, 'reads still work');
      cfs.setQuorate(true);
      assert.deepEqual(await readdir(join(cfs.root, 'pvepatch')), ['defs.json']);
    } finally {
      await cfs.cleanup();
    }
  });

  it('the pmxcfs double refuses a file over 1 MiB with EFBIG', async () => {
    const cfs = await PmxcfsDir.create();
    try {
      const fs = cfs.nodeFs('pve1', 1);
      await assert.rejects(fs.writeNewFile(join(cfs.root, 'x'), Buffer.alloc(PMXCFS_MAX_FILE_SIZE + 1)), {
        code: 'EFBIG',
      });
    } finally {
      await cfs.cleanup();
    }
  });
});
