/**
 * Test double: a plain temp directory that behaves like pmxcfs (/etc/pve) for the rules pvepatch
 * relies on, as far as a test can observe them. Each node gets its own ClusterFs view
 * (`nodeFs(name, id)`), because pmxcfs judges by the node a request comes from:
 * - quorum switch: without quorum every write, mkdir, rmdir, rename and utime fails with EACCES
 *   and `local` reports mode 0555 (tests run as root, who ignores modes, so this is done in the
 *   file layer rather than by chmod or a read-only bind mount);
 * - files over 1 MiB: EFBIG (after the create, as pmxcfs' write does);
 * - lock directories under priv/lock: the creating node is the writer; a refresh utime(0, t)
 *   succeeds only for the writer and only with t >= the current mtime; an unlock request
 *   utime(0, 0) deletes the lock when the judge (the lowest-id node, one clock: `now`) has not
 *   seen it change for longer than the expiry, and otherwise fails with EACCES; rename of a lock
 *   is refused; rmdir is allowed to any node (pmxcfs does not check the writer there either).
 * `sweepExpiredLocks()` acts as if an unlock request arrived for every lock (pmxcfs itself only
 * judges on request; nothing removes an expired lock that nobody asks for).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import {
  type ClusterFs,
  type ClusterStat,
  errnoError,
  nodeClusterFs,
  PMXCFS_MAX_FILE_SIZE,
} from '../../daemon/cluster/cluster-fs.js';

interface LockInfo {
  writer: number;
  mtimeSec: number;
  /** The judge's clock when it last saw the lock change (memdb_lock_info_t.ltime). */
  ltime: number;
}

export interface PmxcfsDirOptions {
  /** Lock lifetime; pmxcfs has 120 s. */
  expirySeconds?: number;
  /** The judge's clock in ms (default Date.now). */
  now?: () => number;
}

export class PmxcfsDir {
  readonly root: string;
  readonly expiryMs: number;
  private readonly now: () => number;
  private quorate = true;
  private readonly locks = new Map<string, LockInfo>();

  private constructor(root: string, options: PmxcfsDirOptions) {
    this.root = root;
    this.expiryMs = (options.expirySeconds ?? 120) * 1000;
    this.now = options.now ?? Date.now;
  }

  static async create(options: PmxcfsDirOptions = {}): Promise<PmxcfsDir> {
    const root = await mkdtemp(join(tmpdir(), 'pvepatch-pmxcfs-'));
    const dir = new PmxcfsDir(root, options);
    for (const sub of ['pvepatch', 'nodes', join('priv', 'lock')]) {
      await nodeClusterFs.mkdir(join(root, sub), { recursive: true });
    }
    return dir;
  }

  setQuorate(quorate: boolean): void {
    this.quorate = quorate;
  }

  isQuorate(): boolean {
    return this.quorate;
  }

  /** The writer node id pmxcfs keeps for a lock (not visible through stat), or undefined. */
  lockWriter(name: string): number | undefined {
    return this.locks.get(join(this.root, 'priv', 'lock', name))?.writer;
  }

  /** Deletes every lock the judge considers expired; returns their names. */
  async sweepExpiredLocks(): Promise<string[]> {
    const removed: string[] = [];
    for (const path of [...this.locks.keys()]) {
      if (await this.judgeUnlock(path)) removed.push(relative(join(this.root, 'priv', 'lock'), path));
    }
    return removed;
  }

  async cleanup(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }

  private isLockDir(path: string): boolean {
    return dirname(path) === join(this.root, 'priv', 'lock');
  }

  private inside(path: string): void {
    const rel = relative(this.root, path);
    if (rel === '..' || rel.startsWith(`..${sep}`) || rel.startsWith(sep)) {
      throw new Error(`pmxcfs double: '${path}' is outside '${this.root}'`);
    }
  }

  private writable(syscall: string, path: string): void {
    this.inside(path);
    if (!this.quorate) throw errnoError('EACCES', syscall, path);
  }

  /** The lock's info, registering a lock the double has not seen yet (memdb_update_locks). */
  private async lockInfo(path: string): Promise<LockInfo | undefined> {
    const known = this.locks.get(path);
    if (known) return known;
    const st = await nodeClusterFs.stat(path).catch(() => undefined);
    if (!st?.isDirectory()) return undefined;
    const info = { writer: -1, mtimeSec: Math.floor(st.mtimeMs / 1000), ltime: this.now() };
    this.locks.set(path, info);
    return info;
  }

  private async judgeUnlock(path: string): Promise<boolean> {
    const info = await this.lockInfo(path);
    if (!info || !this.quorate) return false;
    if (this.now() - info.ltime <= this.expiryMs) return false;
    await nodeClusterFs.rmdir(path);
    this.locks.delete(path);
    return true;
  }

  /** The file layer as node `name` (corosync node id `id`) sees it. */
  nodeFs(name: string, id: number): ClusterFs {
    const localLink = join(this.root, 'local');
    const stat = async (path: string, follow: boolean): Promise<ClusterStat> => {
      if (path === localLink) {
        return {
          size: `nodes/${name}`.length,
          mtimeMs: 0,
          mode: 0o120000 | (this.quorate ? 0o777 : 0o555),
          isDirectory: () => follow,
          isSymbolicLink: () => !follow,
        };
      }
      this.inside(path);
      return follow ? nodeClusterFs.stat(path) : nodeClusterFs.lstat(path);
    };
    return {
      readFile: (path, maxBytes) => {
        this.inside(path);
        return nodeClusterFs.readFile(path, maxBytes);
      },
      writeNewFile: async (path, data) => {
        this.writable('open', path);
        if (data.length > PMXCFS_MAX_FILE_SIZE) {
          await nodeClusterFs.writeNewFile(path, Buffer.alloc(0));
          throw errnoError('EFBIG', 'write', path);
        }
        await nodeClusterFs.writeNewFile(path, data);
      },
      rename: async (from, to) => {
        this.writable('rename', from);
        this.inside(to);
        if (this.isLockDir(from) && (await this.lockInfo(from))) throw errnoError('EACCES', 'rename', from);
        await nodeClusterFs.rename(from, to);
      },
      unlink: async (path) => {
        this.writable('unlink', path);
        await nodeClusterFs.unlink(path);
      },
      mkdir: async (path, options) => {
        this.writable('mkdir', path);
        await nodeClusterFs.mkdir(path, options);
        if (this.isLockDir(path) && !options?.recursive) {
          this.locks.set(path, { writer: id, mtimeSec: Math.floor(this.now() / 1000), ltime: this.now() });
        }
      },
      rmdir: async (path) => {
        this.writable('rmdir', path);
        await nodeClusterFs.rmdir(path);
        this.locks.delete(path);
      },
      utimes: async (path, atimeSec, mtimeSec) => {
        this.writable('utime', path);
        const lock = this.isLockDir(path) ? await this.lockInfo(path) : undefined;
        if (!lock) {
          await nodeClusterFs.utimes(path, atimeSec, mtimeSec);
          return;
        }
        if (mtimeSec === 0) {
          // Unlock request, then the mtime update that pmxcfs refuses for a lock (0 < mtime).
          if (await this.judgeUnlock(path)) throw errnoError('ENOENT', 'utime', path);
          throw errnoError('EACCES', 'utime', path);
        }
        if (mtimeSec < lock.mtimeSec || lock.writer !== id) throw errnoError('EACCES', 'utime', path);
        await nodeClusterFs.utimes(path, atimeSec, mtimeSec);
        lock.mtimeSec = mtimeSec;
        lock.ltime = this.now();
      },
      stat: (path) => stat(path, true),
      lstat: (path) => stat(path, false),
    };
  }
}
