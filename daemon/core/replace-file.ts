import { chmodSync, chownSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces a file's contents through a temporary file beside it and a rename, so no reader ever
 * sees half of it: an existing file keeps its exact mode and its owner, a new one gets
 * `defaultMode` (its directory is made). The temporary file is removed when anything fails; the
 * error is the file system's, for the caller to word.
 */
export function replaceFile(path: string, text: string, defaultMode = 0o644): void {
  let st: { mode: number; uid: number; gid: number } | undefined;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  }
  const tmp = join(dirname(path), `.${basename(path)}.pvepatch-${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, st ? st.mode & 0o7777 : defaultMode); // exactly, not as the umask leaves it
    if (st && (st.uid !== process.getuid?.() || st.gid !== process.getgid?.())) chownSync(tmp, st.uid, st.gid);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
