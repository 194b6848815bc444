import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { PmxcfsJudge } from './judge.js';

const EXPIRY_S = 6;
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Node's active timers (process.getActiveResourcesInfo, which this @types/node does not declare). */
const timers = () =>
  (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((r) => r === 'Timeout')
    .length;

describe('PmxcfsJudge on a plain directory', () => {
  let dir: string;
  let lock: string;
  let clock: number;
  let logged: string[];
  let judge: PmxcfsJudge;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pvepatch-judge-'));
    lock = join(dir, 'priv', 'lock', 'pvepatch-leader');
    await mkdir(lock, { recursive: true });
    clock = 1_000_000;
    logged = [];
    judge = new PmxcfsJudge({
      clusterDir: dir,
      expirySeconds: EXPIRY_S,
      now: () => clock,
      log: (l) => logged.push(l),
    });
  });
  afterEach(async () => {
    await judge.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const mtimeSec = () => Math.round(statSync(lock).mtimeMs / 1000);
  const setMtime = (sec: number) => utimes(lock, 0, sec);

  it('refuses an unlock request before expiry and puts the mtime back', async () => {
    await setMtime(5000);
    await judge.poll();
    clock += EXPIRY_S * 1000; // not more than the expiry
    await setMtime(0);
    await judge.poll();
    assert.ok(existsSync(lock));
    assert.equal(mtimeSec(), 5000);
    assert.match(logged.join('\n'), /unlock request for pvepatch-leader: not expired, mtime restored/);
    // the restore kept ltime: one more millisecond and the next request removes it
    clock += 1;
    await setMtime(0);
    await judge.poll();
    assert.ok(!existsSync(lock));
  });

  it('a refresh restarts the expiry', async () => {
    await setMtime(5000);
    await judge.poll();
    clock += EXPIRY_S * 1000 - 500;
    await setMtime(5010); // refresh (utime 0, now)
    await judge.poll();
    clock += 1000; // expired counted from the first sighting, not from the refresh
    await setMtime(0);
    await judge.poll();
    assert.ok(existsSync(lock));
    assert.equal(mtimeSec(), 5010);
  });

  it('removes an expired lock on an unlock request, and forgets it', async () => {
    await setMtime(5000);
    await judge.poll();
    clock += EXPIRY_S * 1000 + 1;
    await judge.poll(); // expiry alone removes nothing: pmxcfs judges only on request
    assert.ok(existsSync(lock));
    await setMtime(0);
    await judge.poll();
    assert.ok(!existsSync(lock));
    assert.ok(logged.includes('unlock request for pvepatch-leader: expired, removed'));
    // a new lock of the same name starts its own lifetime
    await mkdir(lock);
    await setMtime(6000);
    await judge.poll();
    clock += 1000;
    await setMtime(0);
    await judge.poll();
    assert.ok(existsSync(lock));
    assert.equal(mtimeSec(), 6000);
  });

  it('polls on its own after start() and leaves no timer after stop()', async () => {
    const before = timers();
    const real = new PmxcfsJudge({ clusterDir: dir, expirySeconds: EXPIRY_S, pollMs: 20 });
    await setMtime(5000);
    real.start();
    assert.ok(timers() > before, 'the judge keeps a timer while running');
    await delay(60);
    await setMtime(0);
    for (let i = 0; i < 50 && mtimeSec() === 0; i++) await delay(20);
    assert.equal(mtimeSec(), 5000);
    await real.stop();
    assert.equal(timers(), before);
    await setMtime(0);
    await delay(100);
    assert.equal(statSync(lock).mtimeMs, 0, 'a stopped judge no longer answers');
  });
});
