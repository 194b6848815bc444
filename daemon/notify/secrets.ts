/**
 * Secrets (webhook keys and tokens, SMTP passwords) live in their own files, never in
 * notifications.conf: root-owned (or owned by the user running pvepatch) and readable by the owner
 * only (mode 0600 or 0400). A file that breaks this is refused, and what is wrong is said without
 * ever quoting its content.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { PvepatchError } from '../core/errors.js';

const MAX_SECRET_BYTES = 4096;

/** Why the secret file may not be used, or undefined when it may. `uid`: also allowed as owner. */
export function secretFileProblem(path: string, uid = process.getuid?.() ?? 0): string | undefined {
  try {
    readSecretFile(path, uid);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The secret, without its final newline; throws a config-invalid PvepatchError saying what to fix. */
export function readSecretFile(path: string, uid = process.getuid?.() ?? 0): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw refuse(path, `${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; create it with mode 0600`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refuse(path, 'it is not a regular file');
    if (st.uid !== 0 && st.uid !== uid) throw refuse(path, `it belongs to uid ${st.uid}; run: chown root:root ${path}`);
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw refuse(path, `group or others may read or write it (mode ${mode}); run: chmod 600 ${path}`);
    }
    const buf = Buffer.alloc(MAX_SECRET_BYTES + 1);
    const got = readSync(fd, buf, 0, buf.length, 0);
    if (got > MAX_SECRET_BYTES) throw refuse(path, `it is larger than ${MAX_SECRET_BYTES} bytes`);
    const secret = buf
      .subarray(0, got)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    if (secret === '') throw refuse(path, 'it is empty; write the secret into it');
    if (secret.includes('\n')) throw refuse(path, 'it holds more than one line; write only the secret into it');
    return secret;
  } finally {
    closeSync(fd);
  }
}

function refuse(path: string, cause: string): PvepatchError {
  return new PvepatchError('config-invalid', `unable to use secret file '${path}' - ${cause}`);
}
