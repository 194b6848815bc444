/**
 * pvepatch's cluster-wide leader lock, `<cluster_dir>/priv/lock/pvepatch-leader`, taken the way
 * PVE's own cfs locks and the HA manager's `ha_manager_lock` are (see readme.md for the pmxcfs
 * facts): a node-local lock first, then mkdir of the lock directory; on EEXIST an unlock request
 * (utime 0,0: the lowest-id node deletes the lock if it has not changed for 120 s), a pause, and
 * another try. The holder refreshes it with utime(0, now) well within the expiry; pmxcfs accepts a
 * refresh only from the node that created the lock, so a failed refresh means the lock is lost
 * and no new work may start. rmdir releases it. Without quorum the lock counts as lost at once.
 *
 * The lock belongs to a node: pmxcfs records the creating node (the "writer") and refuses the
 * refresh to any other node, but does not show the writer. So the holder also writes
 * `<cluster_dir>/pvepatch/leader.json` ({ node, pid, acquiredAt }), as the HA manager names its
 * master in manager_status; other nodes read it to know the leader, and a restarted pvepatch
 * on the holding node takes its node's lock back by refreshing it instead of waiting for expiry.
 */
import { join } from 'node:path';
import { PvepatchError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { type ClusterFs, errnoOf, nodeClusterFs } from './cluster-fs.js';
import { LocalLock } from './local-lock.js';
import { clusterPaths, isValidNodeName } from './paths.js';
import { readSharedJson, removeSharedFile, writeSharedJson } from './shared-file.js';

/** pmxcfs' hard-coded lock lifetime (memdb.c CFS_LOCK_TIMEOUT). */
export const PMXCFS_LOCK_TIMEOUT_SECONDS = 120;

export interface LeaderLockOptions {
  clusterDir: string;
  node: string;
  /** A local directory (e.g. state_dir) for the node-local lock file `<runDir>/leader.lock`. */
  runDir: string;
  /** After this long without a refresh the lock is gone (pmxcfs: 120; shorter only against a test double). */
  expirySeconds?: number;
  /** Refresh interval; must be shorter than expirySeconds (PVE's HA manager: every 10 s; default 30). */
  refreshSeconds?: number;
  /** Pause between tries while another node holds the lock. */
  retrySeconds?: number;
  /** Clock in milliseconds (default Date.now). */
  now?: () => number;
  /** Pause (default: a timer); must reject when signal aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  fs?: ClusterFs;
  logger?: Logger;
}

export interface LeaderRecord {
  node: string;
  pid: number;
  acquiredAt: string;
}

export type LeaderLockEvent = 'acquired' | 'lost';

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function isLeaderRecord(v: unknown): v is LeaderRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.node === 'string' && typeof r.pid === 'number' && typeof r.acquiredAt === 'string';
}

/** Who last took the leader lock, per `<cluster_dir>/pvepatch/leader.json` (informational: the lock decides). */
export async function readLeaderRecord(
  clusterDir: string,
  fs: ClusterFs = nodeClusterFs,
): Promise<LeaderRecord | undefined> {
  try {
    const v = await readSharedJson(join(clusterDir, 'pvepatch', 'leader.json'), { fs, clusterDir });
    return isLeaderRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new PvepatchError(
      'config-invalid',
      `invalid leader lock option ${name}=${value} - must be a positive number`,
    );
  }
  return value;
}

export class LeaderLock {
  readonly lockPath: string;
  readonly node: string;
  private readonly clusterDir: string;
  private readonly recordPath: string;
  private readonly expiryMs: number;
  private readonly refreshMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly fs: ClusterFs;
  private readonly log: Logger;
  private readonly local: LocalLock;
  private state: 'idle' | 'acquiring' | 'held' = 'idle';
  private quorate = true;
  private lastRefreshAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private generation = 0;
  private refreshing: Promise<boolean> | undefined;
  private readonly listeners = { acquired: new Set<() => void>(), lost: new Set<(reason: string) => void>() };

  constructor(options: LeaderLockOptions) {
    if (!isValidNodeName(options.node)) {
      throw new PvepatchError('config-invalid', `invalid node name '${options.node}' - use the Proxmox node name`);
    }
    const expiry = positive('expirySeconds', options.expirySeconds ?? PMXCFS_LOCK_TIMEOUT_SECONDS);
    const refresh = positive('refreshSeconds', options.refreshSeconds ?? 30);
    if (refresh >= expiry) {
      throw new PvepatchError(
        'config-invalid',
        `invalid leader lock options - refreshSeconds (${refresh}) must be shorter than expirySeconds (${expiry})`,
      );
    }
    const paths = clusterPaths(options.clusterDir, options.node);
    this.clusterDir = options.clusterDir;
    this.node = options.node;
    this.lockPath = paths.leaderLock;
    this.recordPath = paths.leaderRecord;
    this.expiryMs = expiry * 1000;
    this.refreshMs = refresh * 1000;
    this.retryMs = positive('retrySeconds', options.retrySeconds ?? 1) * 1000;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? abortableSleep;
    this.fs = options.fs ?? nodeClusterFs;
    this.log = options.logger ?? silentLogger;
    this.local = new LocalLock(join(options.runDir, 'leader.lock'));
  }

  on(event: 'acquired', listener: () => void): () => void;
  on(event: 'lost', listener: (reason: string) => void): () => void;
  on(event: LeaderLockEvent, listener: ((reason: string) => void) | (() => void)): () => void {
    const set = this.listeners[event] as Set<typeof listener>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Held, quorate, and refreshed within the expiry by this node's clock. */
  isHeld(): boolean {
    if (this.state !== 'held') return false;
    if (this.now() - this.lastRefreshAt >= this.expiryMs) {
      this.lose(`no successful refresh for ${this.expiryMs / 1000} s; another node may have taken it`);
      return false;
    }
    return true;
  }

  /** Waits until this node holds the lock; rejects when signal aborts. Resolves at once if already held. */
  async acquire(signal?: AbortSignal): Promise<void> {
    if (this.isHeld()) return;
    if (this.state === 'acquiring') {
      throw new PvepatchError('locked', `unable to acquire '${this.lockPath}' - an acquire is already running`);
    }
    this.state = 'acquiring';
    let waitingSaid = false;
    const waiting = (why: string): void => {
      if (waitingSaid) return;
      waitingSaid = true;
      this.log.info(`waiting for leader lock '${this.lockPath}' - ${why}`);
    };
    try {
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        if (!this.local.isHeld() && !(await this.local.tryAcquire())) {
          waiting(`another pvepatch process on this node holds '${this.local.path}'`);
        } else if (!this.quorate) {
          waiting('no quorum');
        } else {
          const how = await this.tryClusterLock(waiting);
          if (how !== undefined) {
            await this.becomeHolder(how);
            return;
          }
        }
        await this.sleep(this.retryMs, signal);
      }
    } catch (err) {
      if (this.state === 'acquiring') this.state = 'idle';
      await this.local.release().catch(() => undefined);
      if (signal?.aborted) {
        const holder = await readLeaderRecord(this.clusterDir, this.fs);
        throw new PvepatchError(
          'locked',
          `unable to acquire leader lock '${this.lockPath}' - gave up waiting` +
            (holder ? ` (last taken by node '${holder.node}')` : ''),
          { cause: signal.reason },
        );
      }
      throw err;
    }
  }

  /** One mkdir attempt; 'created' or 'adopted' when this node holds the lock afterwards. */
  private async tryClusterLock(waiting: (why: string) => void): Promise<'created' | 'adopted' | undefined> {
    try {
      await this.fs.mkdir(join(this.clusterDir, 'priv', 'lock'), { recursive: true });
      await this.fs.mkdir(this.lockPath);
      return 'created';
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'EACCES' || code === 'EROFS') {
        waiting(`'${this.clusterDir}' refuses writes (no quorum?)`);
        return undefined;
      }
      if (code !== 'EEXIST') {
        throw new PvepatchError(
          'internal',
          `unable to create '${this.lockPath}' - ${err instanceof Error ? err.message : String(err)}; ` +
            'check that cluster_dir is the pmxcfs mount (/etc/pve)',
          { cause: err },
        );
      }
    }
    const holder = await readLeaderRecord(this.clusterDir, this.fs);
    if (holder?.node === this.node) {
      // Our node's lock from an earlier process: pmxcfs lets only the creating node refresh it.
      try {
        await this.fs.utimes(this.lockPath, 0, this.nowSeconds());
        return 'adopted';
      } catch {
        // Not ours any more (or no quorum): fall through to the unlock request.
      }
    }
    waiting(holder ? `held by node '${holder.node}'` : 'held by another node');
    // Unlock request: pmxcfs' lowest-id node deletes the lock if it has not changed for 120 s.
    // The call itself fails with EACCES on a live lock, as it does for PVE; that is expected.
    await this.fs.utimes(this.lockPath, 0, 0).catch(() => undefined);
    return undefined;
  }

  private async becomeHolder(how: 'created' | 'adopted'): Promise<void> {
    this.state = 'held';
    this.generation++;
    this.lastRefreshAt = this.now();
    const record: LeaderRecord = { node: this.node, pid: process.pid, acquiredAt: new Date(this.now()).toISOString() };
    try {
      await writeSharedJson(this.recordPath, record, { fs: this.fs, clusterDir: this.clusterDir });
    } catch (err) {
      this.log.warn(
        `unable to write '${this.recordPath}' - ${err instanceof Error ? err.message : String(err)}; ` +
          'other nodes will not see who leads',
      );
    }
    this.log.info(
      `acquired leader lock '${this.lockPath}' (${how === 'adopted' ? 'kept this node’s lock' : 'created'})`,
    );
    this.scheduleRefresh();
    this.emit('acquired');
  }

  private scheduleRefresh(): void {
    if (this.timer) clearTimeout(this.timer);
    const gen = this.generation;
    this.timer = setTimeout(() => {
      if (gen !== this.generation || this.state !== 'held') return;
      void this.refresh().then((ok) => {
        if (ok && gen === this.generation) this.scheduleRefresh();
      });
    }, this.refreshMs);
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** utime(0, now) on the lock; false (and 'lost' fired) when that fails. Called by the timer; callable any time. */
  refresh(): Promise<boolean> {
    if (this.state !== 'held') return Promise.resolve(false);
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const gen = this.generation;
    if (!this.quorate) {
      this.lose('no quorum');
      return false;
    }
    if (!(await this.local.isStillHeld())) {
      this.lose(`the local lock file '${this.local.path}' is no longer this process'`);
      return false;
    }
    try {
      await this.fs.utimes(this.lockPath, 0, this.nowSeconds());
    } catch (err) {
      if (gen !== this.generation) return false;
      const code = errnoOf(err);
      if (code === 'ENOENT') {
        this.lose(`'${this.lockPath}' is gone - it expired and was removed, or was removed by hand`);
      } else if (code === 'EACCES' || code === 'EROFS') {
        this.lose('pmxcfs refused the refresh - another node holds the lock now, or this node has no quorum');
      } else {
        this.lose(`refresh failed - ${err instanceof Error ? err.message : String(err)}`);
      }
      return false;
    }
    if (gen !== this.generation || this.state !== 'held') return false;
    this.lastRefreshAt = this.now();
    return true;
  }

  /** Quorum as the daemon sees it; false counts the lock as lost at once. */
  setQuorate(quorate: boolean): void {
    if (quorate === this.quorate) return;
    this.quorate = quorate;
    if (!quorate) {
      this.log.warn(`no quorum - '${this.clusterDir}' is read-only; finishing current steps, starting nothing new`);
      this.lose('no quorum');
    } else {
      this.log.info('quorum is back');
    }
  }

  /** rmdir of the lock (if held) and the local lock; the next node may take it at once. */
  async release(): Promise<void> {
    const wasHeld = this.state === 'held';
    this.state = 'idle';
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    if (wasHeld) {
      try {
        await this.fs.rmdir(this.lockPath);
        this.log.info(`released leader lock '${this.lockPath}'`);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') {
          this.log.warn(
            `unable to remove '${this.lockPath}' - ${err instanceof Error ? err.message : String(err)}; ` +
              `it expires ${this.expiryMs / 1000} s after its last refresh`,
          );
        }
      }
      const holder = await readLeaderRecord(this.clusterDir, this.fs);
      if (holder?.node === this.node) {
        await removeSharedFile(this.recordPath, { fs: this.fs, clusterDir: this.clusterDir }).catch(() => undefined);
      }
    }
    await this.local.release();
  }

  private lose(reason: string): void {
    if (this.state !== 'held') return;
    this.state = 'idle';
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.log.error(`lost leader lock '${this.lockPath}' - ${reason}; not starting new work`);
    void this.local.release().catch(() => undefined);
    this.emit('lost', reason);
  }

  private emit(event: 'acquired'): void;
  private emit(event: 'lost', reason: string): void;
  private emit(event: LeaderLockEvent, reason?: string): void {
    for (const listener of [...this.listeners[event]]) {
      try {
        (listener as (r?: string) => void)(reason);
      } catch (err) {
        this.log.error(`leader lock ${event} listener failed - ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
