import type { Low } from 'lowdb';
import type { z } from 'zod';
import { PvepatchError } from '../core/errors.js';

/**
 * Reads a lowdb file and checks its shape. A file that cannot be read or parsed, or has the wrong
 * shape, stops the daemon with its path, the first problems and `advice` (what to do) - it is never
 * silently reset. Returns the checked data (defaults applied).
 */
export async function readChecked<S extends z.ZodType>(
  db: Low<unknown>,
  path: string,
  shape: S,
  advice: string,
): Promise<z.output<S>> {
  try {
    await db.read();
  } catch (err) {
    throw new PvepatchError('config-invalid', `unable to read ${path} - ${(err as Error).message}; ${advice}`);
  }
  const parsed = shape.safeParse(db.data);
  if (!parsed.success) {
    const why = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.')}: ${i.message}`)
      .join('; ');
    throw new PvepatchError('config-invalid', `unable to use ${path} - ${why}; ${advice}`);
  }
  return parsed.data;
}
