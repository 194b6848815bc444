/**
 * The file operations the cluster modules use on `cluster_dir` (/etc/pve), behind one small
 * interface so that tests can put a pmxcfs double in front of a plain directory (quorum loss,
 * lock ownership and the 1 MiB limit cannot be observed on a plain directory as root).
 * The default implementation is node:fs. There is deliberately no chmod/chown: pmxcfs derives
 * ownership and modes from the path and refuses anything else.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';

/** pmxcfs refuses files larger than this (memdb.h MEMDB_MAX_FILE_SIZE) with EFBIG. */
export const PMXCFS_MAX_FILE_SIZE = 1024 * 1024;

export interface ClusterStat {
  size: number;
  mtimeMs: number;
  mode: number;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

export interface ClusterFs {
  /** Reads a whole file; fails with code EFBIG (without reading it all) when it is larger than maxBytes. */
  readFile(path: string, maxBytes: number): Promise<Buffer>;
  /** Creates path exclusively (fails with EEXIST) and writes data into it. */
  writeNewFile(path: string, data: Buffer): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** Times in seconds since the epoch, as utime(2). */
  utimes(path: string, atimeSec: number, mtimeSec: number): Promise<void>;
  stat(path: string): Promise<ClusterStat>;
  lstat(path: string): Promise<ClusterStat>;
}

/** The errno code of a thrown value ('ENOENT', ...), or undefined. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** An Error carrying an errno code, shaped like the ones node:fs throws. */
export function errnoError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${syscall} '${path}'`);
  err.code = code;
  err.syscall = syscall;
  err.path = path;
  return err;
}

async function readBounded(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await fsp.open(path, fsConstants.O_RDONLY);
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) throw errnoError('EFBIG', 'read', path);
    // Read one byte more than allowed so a file that grew since fstat is noticed.
    const buf = Buffer.alloc(Math.min(size, maxBytes) + 1);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got > maxBytes) throw errnoError('EFBIG', 'read', path);
    return buf.subarray(0, got);
  } finally {
    await handle.close();
  }
}

async function writeNew(path: string, data: Buffer): Promise<void> {
  const handle = await fsp.open(path, 'wx', 0o640);
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}

/** The real file system (pmxcfs when cluster_dir is /etc/pve). */
export const nodeClusterFs: ClusterFs = {
  readFile: readBounded,
  writeNewFile: writeNew,
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  mkdir: async (path, options) => {
    await fsp.mkdir(path, { recursive: options?.recursive ?? false });
  },
  rmdir: (path) => fsp.rmdir(path),
  utimes: (path, atimeSec, mtimeSec) => fsp.utimes(path, atimeSec, mtimeSec),
  stat: (path) => fsp.stat(path),
  lstat: (path) => fsp.lstat(path),
};
