/**
 * Test stand-in for pmxcfs' lock judging on a plain shared directory (the tests' /etc/pve), done
 * the way the lowest-id node does it (daemon/cluster/readme.md "Locks (pmxcfs)"): real processes
 * mkdir, utime and rmdir lock directories on the shared directory, and this judge polls
 * `<clusterDir>/priv/lock/*` and answers their unlock requests.
 *
 * - Per lock it remembers the state it saw (inode + mtime) and `ltime`, its own clock when it first
 *   saw that state; a changed state (create, refresh) resets ltime, as memdb.c's checksum does.
 * - mtime 0 is an unlock request (utime 0, 0): expired (`now - ltime > expiry`) → rmdir; otherwise
 *   the old mtime is put back (pmxcfs refuses mtime going backwards) and ltime stays.
 * - A lock that vanished is forgotten.
 *
 * Not emulated: the writer check on refresh (the writer is not visible on a plain directory), and
 * a refresh to an older non-zero mtime (pmxcfs refuses it; here it just counts as a new state).
 */
import { readdir, rmdir, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

export interface PmxcfsJudgeOptions {
  clusterDir: string;
  /** Lock lifetime without a refresh; pmxcfs has 120 s. */
  expirySeconds: number;
  /** Poll interval (default 100 ms). */
  pollMs?: number;
  /** The judge's clock in ms (default Date.now). */
  now?: () => number;
  log?: (line: string) => void;
}

interface SeenLock {
  ino: number;
  mtimeMs: number;
  /** The judge's clock when it first saw this state (memdb_lock_info_t.ltime). */
  ltime: number;
}

/** Same state: same inode, same mtime (sub-millisecond drift of a float round trip ignored). */
const sameState = (a: SeenLock, ino: number, mtimeMs: number) => a.ino === ino && Math.abs(a.mtimeMs - mtimeMs) < 1;

const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code;

export class PmxcfsJudge {
  readonly lockDir: string;
  private readonly expiryMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly seen = new Map<string, SeenLock>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private polling: Promise<void> | undefined;

  constructor(opts: PmxcfsJudgeOptions) {
    this.lockDir = join(opts.clusterDir, 'priv', 'lock');
    this.expiryMs = opts.expirySeconds * 1000;
    this.pollMs = opts.pollMs ?? 100;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops polling: clears the timer and waits for a poll in progress. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** One pass over the lock directory (what every poll does; tests with a fake clock call it directly). */
  async poll(): Promise<void> {
    const entries = await readdir(this.lockDir, { withFileTypes: true }).catch((err) => {
      if (errCode(err) === 'ENOENT') return [];
      throw err;
    });
    const present = new Set<string>();
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      present.add(e.name);
      await this.judge(e.name);
    }
    for (const name of this.seen.keys()) if (!present.has(name)) this.seen.delete(name);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.polling = this.poll()
        .catch((err) => this.log(`judge: poll failed: ${(err as Error).message}`))
        .finally(() => {
          this.polling = undefined;
          if (this.running) this.schedule(this.pollMs);
        });
    }, ms);
  }

  private async judge(name: string): Promise<void> {
    const path = join(this.lockDir, name);
    const st = await stat(path).catch(() => undefined);
    if (!st) {
      this.seen.delete(name);
      return;
    }
    const now = this.now();
    const known = this.seen.get(name);
    if (st.mtimeMs !== 0) {
      if (!known || !sameState(known, st.ino, st.mtimeMs)) {
        this.seen.set(name, { ino: st.ino, mtimeMs: st.mtimeMs, ltime: now });
      }
      return;
    }
    // An unlock request. A lock first seen with mtime 0 (created and asked about between two polls)
    // starts its lifetime now, with now as its mtime: pmxcfs would have seen its creation time.
    const prev = known && known.ino === st.ino ? known : { ino: st.ino, mtimeMs: now, ltime: now };
    if (now - prev.ltime > this.expiryMs) {
      try {
        await rmdir(path);
        this.seen.delete(name);
        this.log(`unlock request for ${name}: expired, removed`);
      } catch (err) {
        if (errCode(err) === 'ENOENT') this.seen.delete(name);
        else this.log(`unlock request for ${name}: expired, but rmdir failed: ${(err as Error).message}`);
      }
      return;
    }
    try {
      await utimes(path, st.atime, new Date(prev.mtimeMs));
      this.seen.set(name, prev);
      this.log(`unlock request for ${name}: not expired, mtime restored`);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw err;
      this.seen.delete(name);
    }
  }
}
