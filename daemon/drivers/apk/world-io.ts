/** Reads, pins and restores /etc/apk/world inside the guest (the sequence is described in world.ts). */
import { PvepatchError } from '../../core/errors.js';
import type { DriverContext } from '../types.js';
import * as cmd from './commands.js';
import { parseWorld, pinWorld } from './world.js';

async function exec(ctx: DriverContext, argv: string[], what: string, input?: string): Promise<void> {
  const res = await ctx.exec.run(argv, input === undefined ? { changes: true } : { input, changes: true });
  if (res.exitCode !== 0) {
    const why = res.stderr.trim().split('\n')[0] || `exit code ${res.exitCode}`;
    throw new PvepatchError('patch-failed', `unable to ${what} - ${why}`);
  }
}

export async function readWorld(ctx: DriverContext): Promise<string[]> {
  const res = await ctx.exec.run(cmd.readWorldCommand());
  if (res.exitCode !== 0) {
    throw new PvepatchError('patch-failed', `unable to read ${cmd.WORLD} - ${res.stderr.trim().split('\n')[0]}`);
  }
  return parseWorld(res.stdout);
}

/** Backs the world up, then renames the pinned world over it. */
export async function applyPins(ctx: DriverContext, world: string[], pins: ReadonlyMap<string, string>): Promise<void> {
  await exec(ctx, cmd.backupWorldCommand(), `back up ${cmd.WORLD}`);
  await exec(ctx, cmd.writePinnedCommand(), `write ${cmd.WORLD_PINNED}`, pinWorld(world, pins));
  await exec(ctx, cmd.applyPinnedCommand(), `pin ${[...pins.keys()].join(', ')} in ${cmd.WORLD}`);
}

/** Renames the backup over the world when there is one; returns whether it did. Idempotent. */
export async function restoreWorld(ctx: DriverContext): Promise<boolean> {
  if ((await ctx.exec.run(cmd.existsCommand(cmd.WORLD_BACKUP))).exitCode !== 0) return false;
  await exec(ctx, cmd.restoreWorldCommand(), `restore ${cmd.WORLD} from ${cmd.WORLD_BACKUP}`);
  return true;
}
