/**
 * Reads the policy file (config key `policy_file`). A missing file is an empty policy: every guest
 * gets the built-in defaults. Anything else that stops us from reading it — a directory, no
 * permission, more than 1 MiB, invalid UTF-8, a syntax error — is an error, never ignored.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { PvepatchError } from '../core/errors.js';
import { MAX_POLICY_BYTES, parsePolicy } from './parse.js';
import type { PolicyFile } from './types.js';

export const DEFAULT_POLICY_PATH = '/etc/pvepatch/guests.conf';

/**
 * The file decides which commands run as root in every guest (`check command`) and which key
 * opens them, so only root (or the user running pvepatch) may write it. `uid` is for tests.
 */
export function loadPolicy(path: string, uid = process.getuid?.() ?? 0): PolicyFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { name: path, sections: [] };
    throw readError(path, (err as Error).message, err);
  }
  try {
    return parsePolicy(readBounded(fd, path, uid), path);
  } finally {
    closeSync(fd);
  }
}

function readBounded(fd: number, path: string, uid: number): string {
  const st = fstatSync(fd);
  if (!st.isFile()) throw readError(path, 'it is not a regular file');
  if (st.uid !== 0 && st.uid !== uid) {
    throw readError(path, `it belongs to uid ${st.uid}, not root; run: chown root:root ${path}`);
  }
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw readError(
      path,
      `group or others may write it (mode ${mode}) and it says what runs in guests; run: chmod 644 ${path}`,
    );
  }
  const buf = Buffer.alloc(MAX_POLICY_BYTES + 1);
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, null);
    if (n === 0) break;
    got += n;
  }
  if (got > MAX_POLICY_BYTES) throw readError(path, `it is larger than ${MAX_POLICY_BYTES} bytes`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, got));
  } catch {
    throw readError(path, 'it is not valid UTF-8');
  }
}

function readError(path: string, cause: string, err?: unknown): PvepatchError {
  return new PvepatchError('config-invalid', `unable to read policy file '${path}' - ${cause}`, {
    ...(err === undefined ? {} : { cause: err }),
  });
}
