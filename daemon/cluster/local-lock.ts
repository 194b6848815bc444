/**
 * The node-local lock taken before the cluster lock, so that only one pvepatch process (and one
 * LeaderLock in it) on a node contends for the cluster lock; pmxcfs only knows nodes, so two
 * processes on one node would both pass its ownership check. PVE uses flock(2) for this; Node
 * has no flock, so this is an exclusive-create lock file: `open(O_CREAT|O_EXCL)` and the owner's
 * "<pid> <start time>" inside (the start time from /proc/<pid>/stat guards against a reused pid).
 * A file whose owner is gone is stale: it is renamed away (only one of several racing breakers
 * wins the rename) and the owner line re-checked before it is deleted. The holder can re-check
 * that the file is still its own (`isStillHeld`) and must give up when it is not. Within one
 * process, a set of held paths plays the part of the mutex.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { PvepatchError } from '../core/errors.js';
import { errnoOf } from './cluster-fs.js';

const heldInProcess = new Set<string>();

/**
 * Field 22 of /proc/<pid>/stat (start time in clock ticks); undefined when there is no such
 * process, '' when /proc cannot tell.
 */
export async function processStartTime(pid: number): Promise<string | undefined> {
  let stat: string;
  try {
    stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') return '';
    const procMounted = await fsp.access('/proc/self/stat').then(
      () => true,
      () => false,
    );
    return procMounted ? undefined : '';
  }
  // The command name (field 2) is in parentheses and may contain spaces: count after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19] ?? '';
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}

/** Whether the owner line names a live process (an empty or half-written line counts as live). */
async function ownerAlive(owner: string): Promise<boolean> {
  const [pidText, start] = owner.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return owner.trim() === '';
  if (!pidAlive(pid)) return false;
  if (start === undefined || start === '') return true;
  const actual = await processStartTime(pid);
  return actual === undefined ? false : actual === '' || actual === start;
}

async function readOwner(path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

export class LocalLock {
  readonly path: string;
  private ownerLine: string | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** Takes the lock if it is free (or stale); false when a live process (or this one) holds it. */
  async tryAcquire(): Promise<boolean> {
    if (this.ownerLine !== undefined) return true;
    if (heldInProcess.has(this.path)) return false;
    heldInProcess.add(this.path);
    try {
      const line = `${process.pid} ${(await processStartTime(process.pid)) ?? ''}\n`;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const handle = await fsp.open(this.path, 'wx', 0o600);
          try {
            await handle.writeFile(line);
          } finally {
            await handle.close();
          }
          this.ownerLine = line;
          return true;
        } catch (err) {
          if (errnoOf(err) !== 'EEXIST') throw err;
        }
        const owner = await readOwner(this.path);
        if (owner === undefined) continue;
        if (await ownerAlive(owner)) return this.giveUp();
        await this.breakStale(owner);
      }
      return this.giveUp();
    } catch (err) {
      heldInProcess.delete(this.path);
      throw new PvepatchError(
        'internal',
        `unable to take the local lock '${this.path}' - ${err instanceof Error ? err.message : String(err)}; ` +
          'check that the state directory exists and is writable',
        { cause: err },
      );
    }
  }

  private giveUp(): false {
    heldInProcess.delete(this.path);
    return false;
  }

  private async breakStale(owner: string): Promise<void> {
    const aside = `${this.path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await fsp.rename(this.path, aside);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return; // another process broke it first
      throw err;
    }
    const moved = await readOwner(aside);
    if (moved === owner) {
      await fsp.unlink(aside).catch(() => undefined);
      return;
    }
    // We moved a fresh lock someone took after we read the stale one: put it back if we can.
    await fsp.link(aside, this.path).catch(() => undefined);
    await fsp.unlink(aside).catch(() => undefined);
  }

  /** Whether the lock file still carries this process' owner line. */
  async isStillHeld(): Promise<boolean> {
    if (this.ownerLine === undefined) return false;
    try {
      return (await readOwner(this.path)) === this.ownerLine;
    } catch {
      return false;
    }
  }

  isHeld(): boolean {
    return this.ownerLine !== undefined;
  }

  async release(): Promise<void> {
    const line = this.ownerLine;
    if (line === undefined) return;
    this.ownerLine = undefined;
    heldInProcess.delete(this.path);
    const mine = (await readOwner(this.path).catch(() => undefined)) === line;
    if (mine) await fsp.unlink(this.path).catch(() => undefined);
  }
}
