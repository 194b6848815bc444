/**
 * A lowdb database kept in `<cluster_dir>/pvepatch/` (pmxcfs) instead of state_dir, for the
 * definitions every node needs: schedules, exceptions, rollouts, saved plans.
 *
 * Any node may change them, so a change is a read-modify-write under a cluster lock
 * (`priv/lock/pvepatch-<name>`, mkdir/rmdir as PVE's cfs_lock_file), on the file as it is now,
 * written with temp file + rename (shared-file.ts). Other nodes' changes are picked up by
 * `refresh()`, which the cluster service calls every poll: pmxcfs has no change notification.
 * A file that only exists in state_dir (a node that ran pvepatch before cluster mode) is moved
 * into the cluster directory once.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type Adapter, Low } from 'lowdb';
import { PvepatchError } from '../core/errors.js';
import { type ClusterFs, errnoOf, nodeClusterFs, PMXCFS_MAX_FILE_SIZE } from './cluster-fs.js';
import { readSharedText, writeSharedFile } from './shared-file.js';

export interface SharedDbOptions {
  /** `<cluster_dir>/pvepatch`. */
  dir: string;
  clusterDir: string;
  /** How long a change waits for another node's change to finish (ms). */
  lockWaitMs?: number;
  fs?: ClusterFs;
  log?: (line: string) => void;
  /** False without quorum: pmxcfs would refuse the write, so none is tried. */
  writable?: () => boolean;
}

/**
 * Drops the oldest item the file can do without (finished rollouts, used plans); false when
 * nothing more may go. Called while the file would be larger than pmxcfs takes.
 */
export type Shrink<T> = (data: T) => boolean;

/** What a shared file may grow to: pmxcfs refuses more than 1 MiB (room left for a change). */
export const SHARED_FILE_BUDGET = PMXCFS_MAX_FILE_SIZE - 64 * 1024;

/** The lowdb adapter for a file in cluster_dir: bounded read, temp+rename write, never chmod. */
class SharedJSONFile<T> implements Adapter<T> {
  /** The text last read or written, to tell whether another node changed the file. */
  text: string | undefined;
  constructor(
    readonly path: string,
    private readonly opts: SharedDbOptions,
    private readonly shrink?: Shrink<T>,
  ) {}

  async read(): Promise<T | null> {
    const text = await readSharedText(this.path, { clusterDir: this.opts.clusterDir, ...this.fsOpt() });
    this.text = text;
    return text === undefined ? null : (JSON.parse(text) as T);
  }

  async write(data: T): Promise<void> {
    let text = `${JSON.stringify(data, null, 1)}\n`;
    // history goes first, never definitions: a file of definitions alone that is too large is refused
    while (this.shrink && Buffer.byteLength(text) > SHARED_FILE_BUDGET && this.shrink(data))
      text = `${JSON.stringify(data, null, 1)}\n`;
    await writeSharedFile(this.path, text, { clusterDir: this.opts.clusterDir, ...this.fsOpt() });
    this.text = text;
  }

  private fsOpt(): { fs?: ClusterFs } {
    return this.opts.fs ? { fs: this.opts.fs } : {};
  }
}

/** lowdb's Low whose update() is a locked read-modify-write of the shared file. */
export class SharedLow<T> extends Low<T> {
  private readonly file: SharedJSONFile<T>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    path: string,
    defaultData: T,
    private readonly opts: SharedDbOptions,
    shrink?: Shrink<T>,
  ) {
    const file = new SharedJSONFile<T>(path, opts, shrink);
    super(file, defaultData);
    this.file = file;
  }

  override async update(fn: (data: T) => unknown): Promise<void> {
    await this.locked(async () => {
      await this.read();
      fn(this.data);
      await this.write();
    });
  }

  /** Reads the file again; true when another node changed it since. */
  async refresh(): Promise<boolean> {
    const before = this.file.text;
    const data = await this.file.read();
    if (this.file.text === before) return false;
    if (data !== null) this.data = data;
    return true;
  }

  /** One change at a time in this process, and under the cluster lock against other nodes. */
  private locked(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(() => withClusterLock(`pvepatch-${basename(this.file.path, '.json')}`, this.opts, fn));
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function noQuorum(opts: SharedDbOptions): PvepatchError {
  return new PvepatchError(
    'no-quorum',
    `unable to change ${opts.dir} - no quorum: ${opts.clusterDir} is read-only until this node is part of a quorate cluster again (check 'pvecm status'); nothing was changed`,
  );
}

/**
 * Runs fn while holding `<cluster_dir>/priv/lock/<name>` (mkdir; on EEXIST an unlock request,
 * which pmxcfs grants only for a lock unchanged for 120 s, and another try), then rmdir.
 */
export async function withClusterLock(name: string, opts: SharedDbOptions, fn: () => Promise<void>): Promise<void> {
  const fs = opts.fs ?? nodeClusterFs;
  const path = join(opts.clusterDir, 'priv', 'lock', name);
  if (opts.writable?.() === false) throw noQuorum(opts);
  const deadline = Date.now() + (opts.lockWaitMs ?? 10_000);
  for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
    try {
      await fs.mkdir(path);
      break;
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT') {
        await fs.mkdir(join(opts.clusterDir, 'priv', 'lock'), { recursive: true });
        continue;
      }
      if (code === 'EACCES' || code === 'EROFS') throw noQuorum(opts);
      if (code !== 'EEXIST') throw err;
      if (Date.now() > deadline)
        throw new PvepatchError(
          'locked',
          `unable to change ${opts.dir} - the cluster lock '${path}' is held by another change; try again (a lock left by a crashed node expires after 120 s)`,
        );
      await fs.utimes(path, 0, 0).catch(() => undefined);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
  try {
    await fn();
  } finally {
    await fs.rmdir(path).catch((err) => opts.log?.(`unable to remove cluster lock '${path}' - ${String(err)}`));
  }
}

/** A lowdb file: node-local in state_dir, or in cluster mode its shared twin in `<cluster_dir>/pvepatch/`. */
export interface OpenedDb<T> {
  db: Low<T>;
  path: string;
  /** Call first in the store's start(): moves a state_dir file into the cluster directory once. */
  prepare(): Promise<void>;
}

export function openDb<T>(
  localPath: string,
  defaultData: T,
  shared: SharedDbOptions | undefined,
  local: (path: string) => Adapter<T>,
  shrink?: Shrink<T>,
): OpenedDb<T> {
  if (!shared) return { db: new Low<T>(local(localPath), defaultData), path: localPath, prepare: async () => {} };
  const path = join(shared.dir, basename(localPath));
  return {
    db: new SharedLow<T>(path, defaultData, shared, shrink),
    path,
    prepare: () => moveIntoCluster(localPath, path, shared),
  };
}

/** state_dir's file, when the cluster has none yet: copied in once, the local one renamed aside. */
async function moveIntoCluster(localPath: string, sharedPath: string, opts: SharedDbOptions): Promise<void> {
  if (!existsSync(localPath) || existsSync(sharedPath)) return;
  const text = readFileSync(localPath, 'utf8');
  await writeSharedFile(sharedPath, text, { clusterDir: opts.clusterDir, ...(opts.fs ? { fs: opts.fs } : {}) });
  renameSync(localPath, `${localPath}.moved-to-cluster`);
  opts.log?.(
    `moved ${localPath} to ${sharedPath} (cluster-wide now; the old file is kept as ${basename(localPath)}.moved-to-cluster)`,
  );
}
