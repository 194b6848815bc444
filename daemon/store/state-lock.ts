/**
 * One daemon owns a state directory. The lock is a kernel flock on `<state_dir>/pvepatchd.lock`,
 * taken by flock(1) on a file descriptor the daemon keeps open: the lock belongs to the daemon's
 * open file and goes away with the process, however it ends (a kill -9 included), so a stale lock
 * cannot exist. Node has no flock of its own; util-linux (Essential on Debian) has.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PvepatchError } from '../core/errors.js';
import { MINIMAL_ENV } from '../core/exec.js';

const CONFLICT = 75;

export class StateDirLock {
  readonly path: string;
  private fd: number | undefined;

  constructor(private readonly dir: string) {
    this.path = join(dir, 'pvepatchd.lock');
  }

  /** Takes the lock or throws 'locked' naming the daemon that has it; touches nothing else. */
  acquire(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const fd = openSync(this.path, 'a+', 0o600);
    const r = spawnSync('flock', ['--nonblock', '--conflict-exit-code', String(CONFLICT), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
      env: MINIMAL_ENV,
      encoding: 'utf8',
    });
    if (r.status === 0) {
      ftruncateSync(fd, 0);
      writeSync(fd, `${process.pid}\n`);
      this.fd = fd;
      return;
    }
    closeSync(fd);
    if (r.status === CONFLICT) {
      const pid = readFileSync(this.path, 'utf8').trim().slice(0, 20);
      throw new PvepatchError(
        'locked',
        `unable to start - another pvepatch daemon${pid ? ` (pid ${pid})` : ''} owns ${this.dir}; stop it first (systemctl stop pvepatchd)`,
      );
    }
    const why = r.error?.message ?? (r.stderr.trim() || `flock exit ${r.status}`);
    throw new PvepatchError('internal', `unable to lock ${this.path} - ${why} (flock from util-linux is needed)`);
  }

  release(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
