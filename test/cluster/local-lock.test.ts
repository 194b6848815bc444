import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalLock, processStartTime } from '../../daemon/cluster/local-lock.js';

describe('LocalLock', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pvepatch-local-lock-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is exclusive within a process and released by its holder', async () => {
    const path = join(dir, 'a.lock');
    const a = new LocalLock(path);
    const b = new LocalLock(path);
    assert.equal(await a.tryAcquire(), true);
    assert.equal(await b.tryAcquire(), false);
    assert.equal(await a.isStillHeld(), true);
    assert.equal((await readFile(path, 'utf8')).split(' ')[0], String(process.pid));
    await a.release();
    assert.equal(await b.tryAcquire(), true);
    await b.release();
    assert.deepEqual(await readdir(dir), []);
  });

  it('respects a live process and breaks the lock of a dead one', async () => {
    const path = join(dir, 'b.lock');
    const parentStart = await processStartTime(process.ppid);
    await writeFile(path, `${process.ppid} ${parentStart}\n`);
    const l = new LocalLock(path);
    assert.equal(await l.tryAcquire(), false, 'the parent process is alive');

    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    await writeFile(path, `${dead.stdout.toString()} 123\n`);
    assert.equal(await l.tryAcquire(), true, 'a dead pid is stale');
    await l.release();

    // The parent's pid with another start time: the pid was reused, the lock is stale.
    await writeFile(path, `${process.ppid} 1\n`);
    assert.equal(await l.tryAcquire(), true);
    await writeFile(path, 'taken over by someone else\n');
    assert.equal(await l.isStillHeld(), false);
    await l.release();
    await rm(path, { force: true });
    assert.deepEqual(await readdir(dir), []);
  });
});
