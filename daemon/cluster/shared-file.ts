/**
 * Reads and writes pvepatch's shared files under `cluster_dir` the way pmxcfs needs it:
 * the size is checked before writing (pmxcfs refuses files over 1 MiB with EFBIG), a write goes
 * to `<name>.tmp.<pid>` and is renamed over the target (as PVE::Tools::file_set_contents does;
 * each create/write/rename is one cluster message, and readers never see half a file), modes and
 * owners are never touched (pmxcfs derives them from the path), EACCES means "no quorum" and a
 * missing file reads as undefined. fsync is not called: pmxcfs ignores it.
 */
import { Buffer } from 'node:buffer';
import { basename, dirname, join } from 'node:path';
import { PvepatchError } from '../core/errors.js';
import { type ClusterFs, errnoOf, nodeClusterFs, PMXCFS_MAX_FILE_SIZE } from './cluster-fs.js';

export interface SharedFileOptions {
  /** The file layer; node:fs unless a test puts a pmxcfs double in front. */
  fs?: ClusterFs;
  /** For error messages: the cluster directory (default: the file's directory). */
  clusterDir?: string;
}

function fsOf(options?: SharedFileOptions): ClusterFs {
  return options?.fs ?? nodeClusterFs;
}

function noQuorum(action: string, path: string, options: SharedFileOptions | undefined, cause: unknown): PvepatchError {
  const dir = options?.clusterDir ?? dirname(path);
  return new PvepatchError(
    'proxmox-error',
    `unable to ${action} '${path}' - no quorum: ${dir} is read-only until this node is part of a quorate cluster ` +
      `again (check 'pvecm status'); nothing was changed`,
    { cause, details: { path, quorate: false } },
  );
}

function tooLarge(path: string, size: number): PvepatchError {
  return new PvepatchError(
    'input-invalid',
    `unable to write '${path}' - ${size} bytes is more than the ${PMXCFS_MAX_FILE_SIZE} bytes pmxcfs allows ` +
      'for one file; keep less in it or split it',
    { details: { path, size, limit: PMXCFS_MAX_FILE_SIZE } },
  );
}

function failed(action: string, path: string, cause: unknown): PvepatchError {
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new PvepatchError('internal', `unable to ${action} '${path}' - ${msg}`, { cause, details: { path } });
}

/** The file's content, or undefined when it does not exist. Refuses files over 1 MiB. */
export async function readSharedFile(path: string, options?: SharedFileOptions): Promise<Buffer | undefined> {
  try {
    return await fsOf(options).readFile(path, PMXCFS_MAX_FILE_SIZE);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return undefined;
    if (code === 'EFBIG') {
      throw new PvepatchError(
        'output-invalid',
        `unable to read '${path}' - it is larger than ${PMXCFS_MAX_FILE_SIZE} bytes, which pmxcfs never holds; ` +
          'check that cluster_dir points at /etc/pve',
        { cause: err, details: { path } },
      );
    }
    throw failed('read', path, err);
  }
}

export async function readSharedText(path: string, options?: SharedFileOptions): Promise<string | undefined> {
  const buf = await readSharedFile(path, options);
  return buf === undefined ? undefined : buf.toString('utf8');
}

/** The parsed JSON content, or undefined when the file does not exist. */
export async function readSharedJson(path: string, options?: SharedFileOptions): Promise<unknown> {
  const text = await readSharedText(path, options);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PvepatchError(
      'output-invalid',
      `unable to parse '${path}' - not valid JSON (${err instanceof Error ? err.message : String(err)}); ` +
        'fix or remove the file',
      { cause: err, details: { path } },
    );
  }
}

/** Writes data to `<path>.tmp.<pid>` and renames it over path; creates missing parent directories. */
export async function writeSharedFile(path: string, data: string | Buffer, options?: SharedFileOptions): Promise<void> {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (buf.length > PMXCFS_MAX_FILE_SIZE) throw tooLarge(path, buf.length);
  const fs = fsOf(options);
  const tmp = join(dirname(path), `${basename(path)}.tmp.${process.pid}`);
  try {
    await fs.mkdir(dirname(path), { recursive: true });
    // A leftover from a crashed writer with our pid would make the exclusive create fail.
    await fs.unlink(tmp).catch(() => undefined);
    await fs.writeNewFile(tmp, buf);
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.unlink(tmp).catch(() => undefined);
    const code = errnoOf(err);
    if (code === 'EACCES' || code === 'EROFS') throw noQuorum('write', path, options, err);
    if (code === 'EFBIG') throw tooLarge(path, buf.length);
    throw failed('write', path, err);
  }
}

export async function writeSharedJson(path: string, value: unknown, options?: SharedFileOptions): Promise<void> {
  await writeSharedFile(path, `${JSON.stringify(value, null, 2)}\n`, options);
}

/** Removes path; a missing file is not an error. */
export async function removeSharedFile(path: string, options?: SharedFileOptions): Promise<void> {
  try {
    await fsOf(options).unlink(path);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return;
    if (code === 'EACCES' || code === 'EROFS') throw noQuorum('remove', path, options, err);
    throw failed('remove', path, err);
  }
}
